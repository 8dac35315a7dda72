// What only Kubernetes mode uses, in one module that start-controller.ts imports when `run
// --kubernetes` starts: loading @kubernetes/client-node takes about a second of CPU, which `run
// --dir` and `run --git` need not pay before they are ready (issue 22).
export { EventRecorder } from '../kubernetes/event-recorder.js'
export { KubernetesSource } from '../kubernetes/cluster-source.js'
export { KubernetesController } from '../kubernetes/kubernetes-controller.js'
export { ControllerLiveness } from '../kubernetes/controller-liveness.js'
export { loadKubeConfig } from '../kubernetes/kube-config.js'
export { LeaderElector, WATCHES_ANNOTATION } from '../kubernetes/leader-election.js'
export { StandbyServer } from '../server/standby-server.js'
