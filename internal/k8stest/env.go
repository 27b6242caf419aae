package k8stest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"gantry.dev/gantry/internal/testenv"
)

// Loopback address ranges the control plane hands out. All of 127.0.0.0/8 is local on Linux.
const (
	// NodeIP is every KWOK node's InternalIP.
	NodeIP = "127.63.0.1"
	// ServiceCIDR is where the apiserver takes ClusterIPs from.
	ServiceCIDR = "127.96.0.0/16"
)

// Options tune Start.
type Options struct {
	// Logf receives progress lines (building, starting). Nil: discarded.
	Logf func(format string, args ...any)
}

// Env is a running control plane.
type Env struct {
	// Kubeconfig is the path of an admin kubeconfig file (a system:masters token).
	Kubeconfig string
	// Config is the admin rest config.
	Config *rest.Config
	// Client is an admin clientset.
	Client kubernetes.Interface
	// PodCIDR is where KWOK takes this Env's pod IPs from: a /16 of 127.64.0.0/10 that no
	// other Env on the machine uses at the same time.
	PodCIDR string
	// Dir holds the components' state and logs (etcd.log, kube-apiserver.log,
	// kube-scheduler.log, kwok.log, pods/). Stop removes it unless a test failed under Main.
	Dir string

	logf       func(string, ...any)
	procs      []*process // in start order; stopped in reverse, so etcd last
	releaseNet func()     // gives PodCIDR back

	mu       sync.Mutex               // guards ipUse and kubelets
	ipUse    map[string]chan struct{} // pod IP → closed when the process using it has exited
	kubelets []*Kubelet               // stopped by Stop before the control plane

	keep bool // keep Dir on Stop
}

// Start builds (cached) and starts etcd, kube-apiserver, kube-scheduler and kwok on
// loopback, with kwok's pod CIDR inside 127.0.0.0/8, and returns once the apiserver is
// ready. Call once per test package (TestMain; see Main) and Stop when done.
func Start(ctx context.Context, opts Options) (*Env, error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	bin, err := binDir(ctx, logf)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "gantry-k8stest-")
	if err != nil {
		return nil, err
	}
	cidr, release, err := reservePodCIDR()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	e := &Env{Dir: dir, PodCIDR: cidr, logf: logf, releaseNet: release, ipUse: map[string]chan struct{}{}}
	if err := e.start(ctx, bin); err != nil {
		e.keep = true
		e.Stop()
		return nil, fmt.Errorf("%w (logs in %s)", err, dir)
	}
	return e, nil
}

func (e *Env) start(ctx context.Context, bin string) error {
	started := time.Now()
	p, err := writePKI(e.Dir)
	if err != nil {
		return err
	}
	token, err := randomHex(16)
	if err != nil {
		return err
	}
	tokenFile := filepath.Join(e.Dir, "tokens.csv")
	if err := os.WriteFile(tokenFile, []byte(token+`,gantry-test-admin,gantry-test-admin,"system:masters"`+"\n"), 0o600); err != nil {
		return err
	}

	ports, err := testenv.FreePortsOn("127.0.0.1", 3) // distinct: held until all are chosen
	if err != nil {
		return err
	}
	etcdPort, peerPort, apiPort := ports[0], ports[1], ports[2]
	etcdURL := "http://127.0.0.1:" + itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + itoa(peerPort)
	etcd, err := e.run("etcd", bin,
		"--name=k8stest",
		"--data-dir="+filepath.Join(e.Dir, "etcd"),
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=k8stest="+peerURL,
		"--unsafe-no-fsync",
		"--log-level=warn",
	)
	if err != nil {
		return err
	}
	if err := waitTCP(etcd, "127.0.0.1:"+itoa(etcdPort), time.Minute); err != nil {
		return err
	}

	api, err := e.run("kube-apiserver", bin,
		// Without a node lifecycle controller, TaintNodesByCondition would leave every new
		// node tainted not-ready, and ServiceAccount would want default ServiceAccounts.
		"--disable-admission-plugins=ServiceAccount,TaintNodesByCondition",
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+itoa(apiPort),
		"--cert-dir="+filepath.Join(e.Dir, "apiserver-certs"),
		"--tls-cert-file="+p.certFile,
		"--tls-private-key-file="+p.keyFile,
		"--client-ca-file="+p.caFile,
		"--token-auth-file="+tokenFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+p.saPubFile,
		"--service-account-signing-key-file="+p.saKeyFile,
		"--service-cluster-ip-range="+ServiceCIDR,
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	)
	if err != nil {
		return err
	}

	host := "https://127.0.0.1:" + itoa(apiPort)
	e.Config = &rest.Config{
		Host:            host,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: p.caPEM},
		QPS:             200,
		Burst:           400,
		Timeout:         30 * time.Second,
	}
	if e.Client, err = kubernetes.NewForConfig(e.Config); err != nil {
		return err
	}
	if err := e.waitReady(ctx, api); err != nil {
		return err
	}
	e.Kubeconfig = filepath.Join(e.Dir, "kubeconfig")
	if err := writeKubeconfig(e.Kubeconfig, host, token, p.caPEM); err != nil {
		return err
	}

	if _, err := e.run("kube-scheduler", bin,
		"--kubeconfig="+e.Kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
	); err != nil {
		return err
	}
	if _, err := e.run("kwok", bin,
		"--kubeconfig="+e.Kubeconfig,
		"--config="+filepath.Join(bin, "kwok-stages.yaml"),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+kwokAnnotation+"="+kwokAnnotationValue,
		"--cidr="+e.PodCIDR,
		"--node-ip="+NodeIP,
	); err != nil {
		return err
	}
	e.logf("control plane up at %s, pods in %s, in %s (logs in %s)", host, e.PodCIDR, time.Since(started).Round(time.Millisecond), e.Dir)
	return nil
}

// run starts the component name from bin with args, its log in Dir/name.log.
func (e *Env) run(name, bin string, args ...string) (*process, error) {
	argv := append([]string{filepath.Join(bin, name)}, args...)
	p, err := startProcess(name, argv, nil, e.Dir, filepath.Join(e.Dir, name+".log"))
	if err != nil {
		return nil, err
	}
	e.procs = append(e.procs, p)
	return p, nil
}

// waitReady polls the apiserver's /readyz until it answers ok.
func (e *Env) waitReady(ctx context.Context, api *process) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var last error
	for {
		body, err := e.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && strings.TrimSpace(string(body)) == "ok" {
			return nil
		}
		last = err
		if api.exited() {
			return fmt.Errorf("kube-apiserver exited: %v\n%s", api.err, api.logTail())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready: %v (last error: %v)\n%s", ctx.Err(), last, api.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop stops every Kubelet RunPods started, then kills every component, etcd last, and
// removes Dir (kept if a test failed under Main).
func (e *Env) Stop() {
	e.mu.Lock()
	kubelets := e.kubelets
	e.kubelets = nil
	e.mu.Unlock()
	for _, k := range kubelets {
		k.Stop()
	}
	for i := len(e.procs) - 1; i >= 0; i-- {
		e.procs[i].stop(10 * time.Second)
	}
	e.procs = nil
	if e.releaseNet != nil {
		e.releaseNet()
		e.releaseNet = nil
	}
	if e.keep {
		e.logf("control plane state and logs kept in %s", e.Dir)
		return
	}
	os.RemoveAll(e.Dir)
}

func writeKubeconfig(path, server, token string, ca []byte) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["k8stest"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["k8stest"] = &clientcmdapi.Context{Cluster: "k8stest", AuthInfo: "admin", Namespace: "default"}
	cfg.CurrentContext = "k8stest"
	return clientcmd.WriteToFile(*cfg, path)
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
