package webhook

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	cwmetrics "sigs.k8s.io/controller-runtime/pkg/certwatcher/metrics"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/mlscale/mlscale/test/crdschema"
	"github.com/mlscale/mlscale/webhook/mutate"
	"github.com/mlscale/mlscale/webhook/validate"
)

// Load and rotation settings of TestCertRotationUnderLoad.
const (
	rotations = 5
	// Clients per kind of connection: keep-alive HTTP/1.1, keep-alive
	// HTTP/2 (the server offers h2, as the API server's client may use),
	// and a new TCP connection and TLS handshake for every request.
	keepAliveClients = 2
	h2Clients        = 1
	newConnClients   = 3
	// loadBetween is how long the load runs on each certificate once it
	// is served, before the next rotation.
	loadBetween = 300 * time.Millisecond
	// servedWithin bounds the wait for a rotated certificate to be served:
	// certwatcher reloads on file events and polls every 10s besides.
	servedWithin = 30 * time.Second
)

// rotationMode is one way of replacing the files in --cert-dir.
type rotationMode struct {
	name string
	// write installs the key pair in dir; it is called for the first pair
	// too.
	write func(t *testing.T, dir string, p keyPair, step int)
}

// TestCertRotationUnderLoad runs `mlscale webhook` (Run, with a real API
// server behind its cache) under a load of admission reviews on both
// webhook paths, and rotates the serving certificate in --cert-dir several
// times, each time with a new key pair signed by the same CA, as
// cert-manager's renewal does (privateKey.rotationPolicy: Always). It
// rotates the way the kubelet updates a mounted Secret (new timestamped
// directory, atomic swap of the ..data symlink) and the naive way (the two
// files rewritten in place one after the other, with the certwatcher
// seeing the mismatched pair in between). Every request must succeed, the
// process must keep running (Run never returns, keep-alive connections made
// before the first rotation are never dropped), and new handshakes must
// present each new certificate. The figure is logged: go test ./webhook
// -run TestCertRotationUnderLoad -v.
func TestCertRotationUnderLoad(t *testing.T) {
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	restConfig := startAPIServer(t)
	ca := newCA(t)
	modes := []rotationMode{
		{name: "kubelet-atomic-swap", write: func(t *testing.T, dir string, p keyPair, _ int) {
			t.Helper()
			atomicWrite(t, dir, map[string][]byte{"tls.crt": p.chain, "tls.key": p.key, "ca.crt": ca.pem})
		}},
		{name: "in-place-rewrite", write: func(t *testing.T, dir string, p keyPair, step int) {
			t.Helper()
			rewriteInPlace(t, dir, p, step)
		}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { rotateUnderLoad(t, restConfig, ca, m) })
	}
}

// rotateUnderLoad is one mode's run.
func rotateUnderLoad(t *testing.T, restConfig *rest.Config, ca *testCA, mode rotationMode) {
	certDir := t.TempDir()
	mode.write(t, certDir, ca.issue(t, 1), 0)

	handshakeErrors := countHandshakeErrors(t)
	cfg := DefaultConfig()
	cfg.RESTConfig = restConfig
	cfg.Host, cfg.Port, cfg.CertDir = "127.0.0.1", atoiPort(t, freePort(t)), certDir
	cfg.MetricsAddr = "0"
	cfg.ProbeAddr = "127.0.0.1:" + freePort(t)
	cfg.LeaderElection = false
	cfg.GracefulShutdown = 5 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after cancel", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return within 30s of cancel")
		}
	})
	waitHTTP(t, done, "http://"+cfg.ProbeAddr+"/readyz", "ok")
	addr := net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port))
	if got := servedSerial(t, ca, addr); got != 1 {
		t.Fatalf("the webhook serves certificate serial %d, want 1", got)
	}

	readErrors0 := readCertificateErrors(t)
	ld := startLoad(t, ca, addr)
	ld.waitRequests(t, 200)
	var latencies []time.Duration
	for step := 1; step <= rotations; step++ {
		serial := int64(step + 1)
		mode.write(t, certDir, ca.issue(t, serial), step)
		written := time.Now()
		latencies = append(latencies, waitServed(t, ca, addr, serial, done, written))
		ld.waitNewConnWith(t, serial)
		time.Sleep(loadBetween)
	}
	st := ld.stop()

	select {
	case err := <-done:
		t.Fatalf("Run returned during the rotations: %v", err)
	default:
	}
	if st.failed != 0 {
		t.Errorf("%d of %d admission requests failed; first errors:\n%s", st.failed, st.total, strings.Join(st.firstErrors, "\n"))
	}
	// Not asserted: Go's Transport may dial a second connection when a
	// request starts while the previous response's connection is still on
	// its way back to the idle pool (seen once under load), which is the
	// client's doing, not the server dropping connections. Failed requests
	// above are what matters.
	if st.keepAliveDials != keepAliveClients+h2Clients {
		t.Logf("keep-alive clients dialled %d connections for %d clients", st.keepAliveDials, keepAliveClients+h2Clients)
	}
	if n := handshakeErrors.Load(); n != 0 {
		t.Errorf("the webhook server logged %d TLS handshake errors", n)
	}
	for serial := int64(1); serial <= rotations+1; serial++ {
		if st.newConnBySerial[serial] == 0 {
			t.Errorf("no request on a new connection was answered under certificate serial %d", serial)
		}
	}
	slices.Sort(latencies)
	t.Logf("%s: %d rotations under load: %d admission requests (%d mutate, %d validate), %d failed, %d server-side handshake errors, "+
		"%d new TLS connections by the clients; answers per certificate serial: all %v, on new connections %v; "+
		"new certificate served after the rotation: min %v, median %v, max %v; "+
		"certwatcher read errors (mismatched or partial pair, old certificate kept): %v; Run never returned, %d keep-alive connections never dropped",
		mode.name, rotations, st.total, st.mutate, st.validate, st.failed, handshakeErrors.Load(), st.newConnDials,
		st.bySerial, st.newConnBySerial, latencies[0].Round(time.Millisecond), latencies[len(latencies)/2].Round(time.Millisecond), latencies[len(latencies)-1].Round(time.Millisecond),
		readCertificateErrors(t)-readErrors0, st.keepAliveDials)
}

// countHandshakeErrors counts the "TLS handshake error" lines that the
// webhook's http.Server writes to the standard logger (its ErrorLog is
// unset) until the test ends; the lines are still written.
func countHandshakeErrors(t *testing.T) *atomic.Int64 {
	t.Helper()
	prev := log.Writer()
	w := &handshakeErrorCounter{next: prev}
	log.SetOutput(w)
	t.Cleanup(func() { log.SetOutput(prev) })
	return &w.n
}

type handshakeErrorCounter struct {
	next io.Writer
	n    atomic.Int64
}

func (w *handshakeErrorCounter) Write(p []byte) (int, error) {
	w.n.Add(int64(bytes.Count(p, []byte("TLS handshake error"))))
	return w.next.Write(p)
}

// startAPIServer starts envtest's etcd and kube-apiserver with KEDA's CRDs
// (the webhook's cache watches ScaledObjects and ScaledJobs); no webhook
// configuration is installed: the load goes to the webhook server directly.
func startAPIServer(t *testing.T) *rest.Config {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(repoRoot(t), "bin", "k8s")
	}
	if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil {
		t.Fatalf("no control plane in %s (run `make control-plane`): %v", assets, err)
	}
	crds, err := crdschema.KEDACRDDir("")
	if err != nil {
		t.Fatalf("locating KEDA's CRDs: %v", err)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets, CRDDirectoryPaths: []string{crds}, ErrorIfCRDPathMissing: true}
	restConfig, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})
	return restConfig
}

func atoiPort(t *testing.T, s string) int {
	t.Helper()
	var p int
	if _, err := fmt.Sscan(s, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// testCA is a throw-away CA that signs the serving certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
	pool *x509.CertPool
}

// keyPair is one serving certificate as cert-manager writes it: tls.crt
// holds the leaf and the CA, tls.key the leaf's key.
type keyPair struct {
	chain, key []byte
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1000),
		Subject:               pkix.Name{CommonName: "mlscale-test-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pool: pool}
}

// issue signs a serving certificate for 127.0.0.1 with a new ECDSA P-256
// key (the chart's privateKey settings).
func (ca *testCA) issue(t *testing.T, serial int64) keyPair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "mlscale-webhook-service.mlscale-system.svc"},
		DNSNames:     []string{"mlscale-webhook-service.mlscale-system.svc", "localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), ca.pem...)
	return keyPair{chain: chain, key: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})}
}

// atomicWrite updates dir the way the kubelet's atomic writer updates a
// mounted Secret: the files go to a new timestamped directory, a ..data_tmp
// symlink to it is renamed over ..data, the user-visible names are symlinks
// to ..data/NAME (made once), and the previous directory is removed.
func atomicWrite(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	ts, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(ts, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "..data")
	old, err := os.Readlink(data)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, data); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); os.IsNotExist(err) {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			t.Fatal(err)
		}
	}
}

// rewriteInPlace overwrites tls.crt and tls.key in place, one after the
// other (the certificate first on odd steps, the key first on even ones).
// Between the two writes it waits until the certwatcher has tried, and
// failed, to load the mismatched pair (or 5s), so that the window is
// exercised under load every time.
func rewriteInPlace(t *testing.T, dir string, p keyPair, step int) {
	t.Helper()
	first, second := [2]string{"tls.crt", string(p.chain)}, [2]string{"tls.key", string(p.key)}
	if step%2 == 0 {
		first, second = second, first
	}
	errs := readCertificateErrors(t)
	if err := os.WriteFile(filepath.Join(dir, first[0]), []byte(first[1]), 0o600); err != nil {
		t.Fatal(err)
	}
	if step == 0 {
		// The first pair: no server is watching yet.
		if err := os.WriteFile(filepath.Join(dir, second[0]), []byte(second[1]), 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for readCertificateErrors(t) == errs && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if readCertificateErrors(t) == errs {
		t.Logf("step %d: the certwatcher did not read the mismatched pair within 5s", step)
	}
	if err := os.WriteFile(filepath.Join(dir, second[0]), []byte(second[1]), 0o600); err != nil {
		t.Fatal(err)
	}
}

// readCertificateErrors is controller-runtime's
// certwatcher_read_certificate_errors_total (process-wide).
func readCertificateErrors(t *testing.T) float64 {
	t.Helper()
	var m dto.Metric
	if err := cwmetrics.ReadCertificateErrors.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// servedSerial makes a new TLS connection to addr, verifying the server
// against the CA, and returns the serial of the certificate it presents
// (0 if the handshake fails).
func servedSerial(t *testing.T, ca *testCA, addr string) int64 {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Logf("handshake: %v", err)
		return 0
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// waitServed polls new handshakes until the server presents serial, and
// returns the time since the rotation was written.
func waitServed(t *testing.T, ca *testCA, addr string, serial int64, done chan error, written time.Time) time.Duration {
	t.Helper()
	for {
		got := servedSerial(t, ca, addr)
		if got == serial {
			return time.Since(written)
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("Run returned while waiting for serial %d: %v", serial, err)
		default:
		}
		if time.Since(written) > servedWithin {
			t.Fatalf("the webhook still serves serial %d %v after serial %d was written", got, servedWithin, serial)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// load is the admission load: clients posting AdmissionReviews in a loop.
type load struct {
	stopping atomic.Bool
	wg       sync.WaitGroup

	total, failed, mutate, validate atomic.Int64
	keepAliveDials, newConnDials    atomic.Int64

	mu          sync.Mutex
	firstErrors []string
	// bySerial and newConnBySerial count the answers per serial of the
	// certificate on the connection that answered: on any connection, on
	// the new-connection clients' connections.
	bySerial, newConnBySerial map[int64]int64
}

type loadStats struct {
	total, failed, mutate, validate int64
	keepAliveDials, newConnDials    int64
	bySerial, newConnBySerial       map[int64]int64
	firstErrors                     []string
}

// startLoad starts the clients against addr.
func startLoad(t *testing.T, ca *testCA, addr string) *load {
	t.Helper()
	ld := &load{bySerial: map[int64]int64{}, newConnBySerial: map[int64]int64{}}
	t.Cleanup(func() { ld.stop() }) // when the test stops early
	bodies := newReviewBodies(t, addr)
	client := func(keepAlive, h2 bool) *http.Client {
		dials := &ld.newConnDials
		if keepAlive {
			dials = &ld.keepAliveDials
		}
		d := &net.Dialer{Timeout: 5 * time.Second}
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
				dials.Add(1)
				return d.DialContext(ctx, network, a)
			},
			TLSClientConfig:   &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12},
			DisableKeepAlives: !keepAlive,
			ForceAttemptHTTP2: h2,
		}}
	}
	var clients []*http.Client
	for range keepAliveClients {
		clients = append(clients, client(true, false))
	}
	for range h2Clients {
		clients = append(clients, client(true, true))
	}
	for range newConnClients {
		clients = append(clients, client(false, false))
	}
	for i, c := range clients {
		ld.wg.Add(1)
		go func() {
			defer ld.wg.Done()
			defer c.CloseIdleConnections()
			newConn := i >= keepAliveClients+h2Clients
			for n := i; !ld.stopping.Load(); n++ {
				ld.do(c, bodies, n%2 == 0, newConn, i)
			}
		}()
	}
	return ld
}

// do sends one AdmissionReview and checks the answer.
func (ld *load) do(c *http.Client, bodies *reviewBodies, toMutate, newConn bool, client int) {
	path, uid, body := bodies.next(toMutate)
	serial, err := post(c, "https://"+path, uid, body, toMutate)
	ld.total.Add(1)
	if toMutate {
		ld.mutate.Add(1)
	} else {
		ld.validate.Add(1)
	}
	ld.mu.Lock()
	defer ld.mu.Unlock()
	if err != nil {
		ld.failed.Add(1)
		if len(ld.firstErrors) < 10 {
			ld.firstErrors = append(ld.firstErrors, fmt.Sprintf("client %d %s: %v", client, path, err))
		}
		return
	}
	ld.bySerial[serial]++
	if newConn {
		ld.newConnBySerial[serial]++
	}
}

// post sends one review and returns the serial of the server's certificate
// on the connection that answered.
func post(c *http.Client, url string, uid types.UID, body []byte, mutating bool) (int64, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("HTTP %d: %.300s", resp.StatusCode, b)
	}
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(b, &ar); err != nil {
		return 0, fmt.Errorf("not an AdmissionReview: %w: %.300s", err, b)
	}
	r := ar.Response
	switch {
	case ar.Kind != "AdmissionReview" || ar.APIVersion != admissionv1.SchemeGroupVersion.String():
		return 0, fmt.Errorf("answer is %s %s", ar.APIVersion, ar.Kind)
	case r == nil:
		return 0, fmt.Errorf("no response: %.300s", b)
	case r.UID != uid:
		return 0, fmt.Errorf("response UID %q, request UID %q", r.UID, uid)
	case !r.Allowed:
		return 0, fmt.Errorf("not allowed: %+v", r.Result)
	case mutating && (r.PatchType == nil || len(r.Patch) == 0):
		return 0, fmt.Errorf("no patch in the mutating answer: %.300s", b)
	}
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		return 0, fmt.Errorf("no TLS connection state")
	}
	return resp.TLS.PeerCertificates[0].SerialNumber.Int64(), nil
}

// waitRequests waits until n requests were answered.
func (ld *load) waitRequests(t *testing.T, n int64) {
	t.Helper()
	poll(t, "load", func() (bool, string) {
		return ld.total.Load() >= n, fmt.Sprintf("%d requests answered", ld.total.Load())
	})
}

// waitNewConnWith waits until a new-connection client was answered under
// the certificate serial.
func (ld *load) waitNewConnWith(t *testing.T, serial int64) {
	t.Helper()
	poll(t, fmt.Sprintf("a request on a new connection under serial %d", serial), func() (bool, string) {
		ld.mu.Lock()
		defer ld.mu.Unlock()
		return ld.newConnBySerial[serial] > 0, fmt.Sprintf("answers on new connections per serial: %v", ld.newConnBySerial)
	})
}

// stop stops the clients, letting each finish its request, and returns
// the counts.
func (ld *load) stop() loadStats {
	ld.stopping.Store(true)
	ld.wg.Wait()
	ld.mu.Lock()
	defer ld.mu.Unlock()
	return loadStats{
		total: ld.total.Load(), failed: ld.failed.Load(), mutate: ld.mutate.Load(), validate: ld.validate.Load(),
		keepAliveDials: ld.keepAliveDials.Load(), newConnDials: ld.newConnDials.Load(),
		bySerial: ld.bySerial, newConnBySerial: ld.newConnBySerial, firstErrors: ld.firstErrors,
	}
}

// reviewBodies makes the AdmissionReviews: an opted-in Deployment for the
// mutating webhook, an HPA for the validating one, each with a new UID.
type reviewBodies struct {
	addr         string
	deploy, hpa  []byte
	seq          atomic.Int64
	mutatePath   string
	validatePath string
}

func newReviewBodies(t *testing.T, addr string) *reviewBodies {
	t.Helper()
	d := webDeployment()
	h := &autoscalingv2.HorizontalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "api"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "api"},
			MinReplicas:    ptr.To[int32](1),
			MaxReplicas:    3,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](60)},
			}}},
		},
	}
	rb := &reviewBodies{addr: addr, mutatePath: mutate.Path, validatePath: validate.Path}
	var err error
	if rb.deploy, err = json.Marshal(d); err != nil {
		t.Fatal(err)
	}
	if rb.hpa, err = json.Marshal(h); err != nil {
		t.Fatal(err)
	}
	return rb
}

// next returns the host-relative path, UID and body of the next review.
func (rb *reviewBodies) next(toMutate bool) (string, types.UID, []byte) {
	uid := types.UID(fmt.Sprintf("rotation-%d", rb.seq.Add(1)))
	req := &admissionv1.AdmissionRequest{
		UID: uid, Operation: admissionv1.Create, Namespace: "default",
		UserInfo: authenticationv1.UserInfo{Username: "system:serviceaccount:kube-system:deployment-controller"},
	}
	path := rb.validatePath
	if toMutate {
		path = rb.mutatePath
		req.Kind = metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
		req.Resource = metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
		req.Name, req.Object.Raw = "web", rb.deploy
	} else {
		req.Kind = metav1.GroupVersionKind{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"}
		req.Resource = metav1.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}
		req.Name, req.Object.Raw = "api", rb.hpa
	}
	b, _ := json.Marshal(&admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"},
		Request:  req,
	})
	return rb.addr + path, uid, b
}
