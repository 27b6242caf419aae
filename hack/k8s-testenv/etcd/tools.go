//go:build tools

// Package tools pins the etcd commands build.sh compiles.
package tools

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/server/v3"
)
