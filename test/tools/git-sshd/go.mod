// A small SSH server for the tests of `hookwise run --git ssh://... --ssh-key-file` (test/helpers/git-sshd.ts).
// Not part of the shipped product.
module hookwise.dev/test/tools/git-sshd

go 1.26.0

require golang.org/x/crypto v0.59.0

require golang.org/x/sys v0.50.0 // indirect
