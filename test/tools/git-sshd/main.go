// git-sshd: a real SSH server for hookwise's git-over-ssh tests (test/helpers/git-sshd.ts). Not
// part of the shipped product.
//
//	git-sshd keygen FILE
//	    writes an ed25519 key pair: FILE (OpenSSH private key, mode 0600) and FILE.pub.
//	git-sshd serve -root DIR -authorized-keys FILE [-listen 127.0.0.1:0] [-processes]
//	    serves `git-upload-pack '<path>'` on the bare repositories below DIR to clients holding a key
//	    of FILE, and refuses every other request. The first stdout line is
//	    {"address":"127.0.0.1:PORT","hostKey":"ssh-ed25519 AAAA..."} (a host key made at start);
//	    then one JSON line per authentication attempt and per exec request. With -processes, an
//	    exec line also holds `ps -eo args` taken while the client waits for git-upload-pack.
//	    It stops when its stdin closes, so it never outlives the test that started it.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: git-sshd keygen FILE | git-sshd serve -root DIR -authorized-keys FILE [-listen ADDR] [-processes]")
	}
	switch os.Args[1] {
	case "keygen":
		if len(os.Args) != 3 {
			fail("usage: git-sshd keygen FILE")
		}
		if err := keygen(os.Args[2]); err != nil {
			fail(err.Error())
		}
	case "serve":
		serve(os.Args[2:])
	default:
		fail("unknown command " + os.Args[1])
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "git-sshd: "+msg)
	os.Exit(2)
}

func keygen(file string) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "git-sshd test key")
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		return err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return err
	}
	return os.WriteFile(file+".pub", ssh.MarshalAuthorizedKey(sshPub), 0o644)
}

var (
	outMu sync.Mutex
	out   = json.NewEncoder(os.Stdout)
)

func report(v any) {
	outMu.Lock()
	defer outMu.Unlock()
	_ = out.Encode(v)
}

func serve(args []string) {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	root := fs.String("root", "", "folder holding the bare repositories")
	authorized := fs.String("authorized-keys", "", "authorized_keys file of the accepted client keys")
	processes := fs.Bool("processes", false, "record `ps -eo args` on each exec request")
	_ = fs.Parse(args)
	if *root == "" || *authorized == "" {
		fail("serve needs -root and -authorized-keys")
	}
	rootDir, err := filepath.Abs(*root)
	if err != nil {
		fail(err.Error())
	}
	allowed, err := readAuthorizedKeys(*authorized)
	if err != nil {
		fail(err.Error())
	}

	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		fail(err.Error())
	}
	hostKey, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		fail(err.Error())
	}
	config := &ssh.ServerConfig{
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			fingerprint := ssh.FingerprintSHA256(key)
			ok := allowed[string(key.Marshal())]
			report(map[string]any{"event": "auth", "user": meta.User(), "key": fingerprint, "accepted": ok})
			if !ok {
				return nil, errors.New("key not authorized")
			}
			return &ssh.Permissions{}, nil
		},
	}
	config.AddHostKey(hostKey)

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fail(err.Error())
	}
	report(map[string]any{
		"address": ln.Addr().String(),
		"hostKey": strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostKey.PublicKey()))),
	})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			fail(err.Error())
		}
		go handleConn(conn, config, rootDir, *processes)
	}
}

func readAuthorizedKeys(file string) (map[string]bool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	for len(bytes.TrimSpace(data)) > 0 {
		key, _, _, rest, err := ssh.ParseAuthorizedKey(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		keys[string(key.Marshal())] = true
		data = rest
	}
	return keys, nil
}

func handleConn(conn net.Conn, config *ssh.ServerConfig, root string, processes bool) {
	defer conn.Close()
	sconn, chans, reqs, err := ssh.NewServerConn(conn, config)
	if err != nil {
		return
	}
	defer sconn.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only session channels")
			continue
		}
		ch, requests, err := nc.Accept()
		if err != nil {
			continue
		}
		go handleSession(ch, requests, root, processes)
	}
}

// git quotes the path as its sq_quote does: in single quotes, where a quote or ! inside is written
// by closing the quotes, a backslash-escaped character and reopening them.
var uploadPack = regexp.MustCompile(`^git-upload-pack '((?:[^']|'\\[!']')*)'$`)

func handleSession(ch ssh.Channel, requests <-chan *ssh.Request, root string, processes bool) {
	defer ch.Close()
	var env []string
	for req := range requests {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			ok := ssh.Unmarshal(req.Payload, &kv) == nil && kv.Name == "GIT_PROTOCOL"
			if ok {
				env = append(env, kv.Name+"="+kv.Value)
			}
			_ = req.Reply(ok, nil)
		case "exec":
			var cmd struct{ Command string }
			if ssh.Unmarshal(req.Payload, &cmd) != nil {
				_ = req.Reply(false, nil)
				continue
			}
			event := map[string]any{"event": "exec", "command": cmd.Command}
			repo, refusal := repository(root, cmd.Command)
			event["accepted"] = refusal == ""
			if processes {
				ps, _ := exec.Command("ps", "-eo", "args").Output()
				event["processes"] = string(ps)
			}
			report(event)
			_ = req.Reply(true, nil)
			status := 1
			if refusal != "" {
				fmt.Fprintln(ch.Stderr(), "git-sshd: "+refusal)
			} else {
				status = uploadPackTo(ch, repo, env)
			}
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
			return
		default:
			_ = req.Reply(false, nil)
		}
	}
}

// repository is the bare repository the command names, or why the command is refused.
func repository(root, command string) (string, string) {
	m := uploadPack.FindStringSubmatch(command)
	if m == nil {
		return "", fmt.Sprintf("only git-upload-pack '<path>' is served, not %q", command)
	}
	path := strings.NewReplacer(`'\''`, `'`, `'\!'`, `!`).Replace(m[1])
	rel := filepath.Clean("/" + path)[1:]
	repo := filepath.Join(root, rel)
	if st, err := os.Stat(filepath.Join(repo, "HEAD")); rel == "" || err != nil || st.IsDir() {
		return "", fmt.Sprintf("no repository %s", path)
	}
	return repo, ""
}

func uploadPackTo(ch ssh.Channel, repo string, env []string) int {
	cmd := exec.Command("git-upload-pack", "--strict", repo)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	// Not cmd.Stdin = ch: Wait would then also wait for the client to close its side.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 1
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(ch.Stderr(), "git-sshd: "+err.Error())
		return 1
	}
	go func() {
		_, _ = io.Copy(stdin, ch)
		_ = stdin.Close()
	}()
	if err := cmd.Wait(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		return 1
	}
	return 0
}
