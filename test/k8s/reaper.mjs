// Backstop for control-plane teardown. The control plane starts this process detached (its own
// process group, so Ctrl-C does not reach it) with a pipe on stdin, then writes lines to it:
//
//   pid <n>      a process to stop
//   dir <path>   a folder to remove
//   done         the owner tore everything down itself; just exit
//
// When stdin closes without "done" -- the owner crashed, was SIGKILLed by a test timeout or
// interrupted before its own teardown finished -- it stops the processes (SIGTERM, then SIGKILL)
// and removes the folders. Plain JavaScript so it starts in milliseconds without tsx.

import { rmSync } from 'node:fs'

const pids = []
const dirs = []
let done = false
let buffer = ''

process.on('SIGINT', () => {})
process.on('SIGHUP', () => {})
process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk) => {
  buffer += chunk
  for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
    const line = buffer.slice(0, newline)
    buffer = buffer.slice(newline + 1)
    if (line === 'done') done = true
    else if (line.startsWith('pid ')) pids.push(Number(line.slice(4)))
    else if (line.startsWith('dir ')) dirs.push(line.slice(4))
  }
})
process.stdin.on('error', () => {})
process.stdin.on('close', () => void reap())

function alive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return err.code === 'EPERM'
  }
}

function signal(pid, sig) {
  try {
    process.kill(pid, sig)
  } catch {}
}

async function reap() {
  if (!done) {
    // Newest first (kube-apiserver before etcd), as stop() does: an apiserver whose etcd is gone
    // spends its grace period retrying.
    for (const pid of [...pids].reverse()) {
      signal(pid, 'SIGTERM')
      if (!(await exited(pid, 10_000))) {
        signal(pid, 'SIGKILL')
        await exited(pid, 5_000)
      }
    }
    for (const dir of dirs) {
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 5 })
      } catch {}
    }
  }
  process.exit(0)
}

async function exited(pid, ms) {
  for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
    if (!alive(pid)) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  return !alive(pid)
}
