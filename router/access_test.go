package router_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/natstest"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/router/plan"
)

// NATS access: switchyard joins a server that requires a credentials
// file, an nkey, a user and password, a token or TLS; the embedded server
// takes a token and refuses clients without it.

func startAuthServer(t *testing.T, configure func(*server.Options)) *server.Server {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true}
	configure(opts)
	s, err := server.NewServer(opts)
	must(t, err)
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(s.Shutdown)
	return s
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	must(t, os.WriteFile(p, data, 0o600))
	return p
}

// connects asserts Connect succeeds with good and fails with bad, an error
// that shows none of the secrets.
func connects(t *testing.T, url string, good, bad config.NATS, secrets ...string) {
	t.Helper()
	nc, err := router.Connect(good, url)
	if err != nil {
		t.Fatalf("with credentials: %v", err)
	}
	must(t, nc.Flush())
	nc.Close()
	nc, err = router.Connect(bad, url)
	if err == nil {
		nc.Close()
		t.Fatal("connected without the right credentials")
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("the error shows a secret: %v", err)
		}
	}
}

func TestConnectWithUserPasswordAndToken(t *testing.T) {
	s := startAuthServer(t, func(o *server.Options) { o.Username, o.Password = "switchyard", "pw-canary-31415" })
	connects(t, s.ClientURL(), config.NATS{User: "switchyard", Password: "pw-canary-31415"},
		config.NATS{User: "switchyard", Password: "wrong-pw-27182"}, "pw-canary-31415", "wrong-pw-27182")

	s = startAuthServer(t, func(o *server.Options) { o.Authorization = "tok-canary-16180" })
	connects(t, s.ClientURL(), config.NATS{Token: "tok-canary-16180"}, config.NATS{}, "tok-canary-16180")
}

func TestConnectWithAnNKeySeedFile(t *testing.T) {
	kp, err := nkeys.CreateUser()
	must(t, err)
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	s := startAuthServer(t, func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: pub}} })
	other, _ := nkeys.CreateUser()
	otherSeed, _ := other.Seed()
	connects(t, s.ClientURL(), config.NATS{NKey: writeFile(t, "user.nk", seed)},
		config.NATS{NKey: writeFile(t, "other.nk", otherSeed)}, string(seed), string(otherSeed))
	if _, err := router.Connect(config.NATS{NKey: filepath.Join(t.TempDir(), "missing.nk")}, s.ClientURL()); err == nil || !strings.Contains(err.Error(), "nats.nkey") {
		t.Errorf("a missing seed file: %v", err)
	}
}

// A decentralised (operator mode) server and a user .creds file, as NGS
// or a company's NATS account server issue them.
func TestConnectWithACredentialsFile(t *testing.T) {
	okp, _ := nkeys.CreateOperator()
	opub, _ := okp.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	ojwt, err := oc.Encode(okp)
	must(t, err)
	oclaims, err := jwt.DecodeOperatorClaims(ojwt)
	must(t, err)
	akp, _ := nkeys.CreateAccount()
	apub, _ := akp.PublicKey()
	ajwt, err := jwt.NewAccountClaims(apub).Encode(okp)
	must(t, err)
	creds := func() []byte {
		ukp, _ := nkeys.CreateUser()
		upub, _ := ukp.PublicKey()
		useed, _ := ukp.Seed()
		ujwt, err := jwt.NewUserClaims(upub).Encode(akp)
		must(t, err)
		c, err := jwt.FormatUserConfig(ujwt, useed)
		must(t, err)
		return c
	}
	resolver := &server.MemAccResolver{}
	must(t, resolver.Store(apub, ajwt))
	s := startAuthServer(t, func(o *server.Options) {
		o.TrustedOperators = []*jwt.OperatorClaims{oclaims}
		o.AccountResolver = resolver
	})
	// A user of an account the server does not know is refused.
	stranger, _ := nkeys.CreateAccount()
	spub, _ := stranger.PublicKey()
	ukp, _ := nkeys.CreateUser()
	upub, _ := ukp.PublicKey()
	useed, _ := ukp.Seed()
	uc := jwt.NewUserClaims(upub)
	uc.IssuerAccount = spub
	sjwt, err := uc.Encode(stranger)
	must(t, err)
	bad, err := jwt.FormatUserConfig(sjwt, useed)
	must(t, err)
	connects(t, s.ClientURL(), config.NATS{Credentials: writeFile(t, "switchyard.creds", creds())},
		config.NATS{Credentials: writeFile(t, "stranger.creds", bad)}, string(useed))
}

func TestConnectWithTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSignedCert(t, dir)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	must(t, err)
	s := startAuthServer(t, func(o *server.Options) {
		o.TLS, o.TLSVerify = true, false
		o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	})
	url := "tls://" + net.JoinHostPort("127.0.0.1", fmt.Sprint(s.Addr().(*net.TCPAddr).Port))
	connects(t, url, config.NATS{TLS: config.TLS{CA: certFile}}, config.NATS{})
	nc, err := router.Connect(config.NATS{TLS: config.TLS{InsecureSkipVerify: true}}, url)
	if err != nil {
		t.Fatalf("insecure_skip_verify: %v", err)
	}
	nc.Close()
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "switchyard test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	must(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	must(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	return certFile, keyFile
}

// The embedded server with nats.embedded.token: the router itself gets
// in, a client without the token does not.
func TestEmbeddedServerWithATokenRefusesClientsWithoutIt(t *testing.T) {
	t.Setenv("SWITCHYARD_NATS_URL", "")
	t.Setenv("EMBEDDED_TOKEN", "emb-canary-14142")
	port := natstest.FreePort(t)
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "switchyard.yaml"), []byte(fmt.Sprintf(
		"nats:\n  embedded:\n    listen: 127.0.0.1:%d\n    token: ${EMBEDDED_TOKEN}\n", port)), 0o644))
	cfg, diags := config.Load(dir, config.Options{})
	must(t, diags.Err())
	plans, diags := plan.Build(cfg)
	must(t, diags.Err())
	r := router.New(cfg, plans, router.Options{DataDir: t.TempDir(), StopTimeout: time.Second})
	must(t, r.Start(context.Background()))
	t.Cleanup(r.Stop)
	if r.Embedded() == nil || !r.Ready() {
		t.Fatal("the embedded server is not running")
	}
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	if nc, err := nats.Connect(url); err == nil {
		nc.Close()
		t.Fatal("a client without the token got in")
	}
	if nc, err := nats.Connect(url, nats.Token("wrong")); err == nil {
		nc.Close()
		t.Fatal("a client with a wrong token got in")
	}
	nc, err := nats.Connect(url, nats.Token("emb-canary-14142"))
	must(t, err)
	nc.Close()
}
