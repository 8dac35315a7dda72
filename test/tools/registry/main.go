// registry serves go-containerregistry's in-memory OCI registry (the Docker Registry HTTP API V2)
// on a free 127.0.0.1 port, prints the address as its first line, and exits when its stdin closes
// (when the test that started it ends).
package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(l.Addr().String())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	log.Fatal(http.Serve(l, registry.New(registry.Logger(log.New(io.Discard, "", 0)))))
}
