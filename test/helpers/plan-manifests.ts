// Manifests shared by the tests of hookwise plan and hookwise diff --kubernetes: a webhook with an
// access token, a signing secret and a header, and an automation that uses all three.

export const WEBHOOK_CI = `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata:
  name: ci
spec:
  url: https://ci.example.com/hooks
  accessToken:
    secretKeyRef: {name: ci-credentials, key: token}
  secrets:
    - name: SIGNING_KEY
      secretKeyRef: {name: ci-credentials, key: signing-key}
  signing: {secret: SIGNING_KEY, scheme: github}
  headers:
    X-Team: ml
`
export const deploy = (alias: string, extra = ''): string => `---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata:
  name: deploy
spec:
  scope: {type: Collection, registry: model, collection: churn}
  event:
    type: ADD_ARTIFACT_ALIAS
    aliasRegex: ^${alias}$
    metadata:
      - {key: accuracy, op: gte, value: "0.9"}
  action:
    webhook: ci
    payload:
      version: \${artifact_version_string}
      alias: \${alias}
      key: \${SIGNING_KEY}${extra}
`
