// What `hookwise run --kubernetes` needs of kubernetes/, in one module that start-controller.ts
// imports only in that mode: the Kubernetes client it pulls in costs about 80 MB of resident memory
// (31 MB of heap), which `run --dir` and `run --git` have no use for.
export { EventRecorder } from '../kubernetes/event-recorder.js'
export { KubernetesSource } from '../kubernetes/cluster-source.js'
export { KubernetesController } from '../kubernetes/kubernetes-controller.js'
export { ControllerLiveness } from '../kubernetes/controller-liveness.js'
export { loadKubeConfig } from '../kubernetes/kube-config.js'
export { LeaderElector, WATCHES_ANNOTATION } from '../kubernetes/leader-election.js'
