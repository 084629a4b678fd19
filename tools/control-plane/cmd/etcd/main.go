// etcd built from the same module graph as kube-apiserver, so it is the etcd version
// that this Kubernetes release is tested against.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
