// A pprof endpoint behind mutual TLS with its own private CA, for tests/tls.rs (issue 18).
//
// It creates a CA, a server certificate for 127.0.0.1 and a client certificate signed by
// that CA, writes ca.pem, client.pem and client-key.pem (PKCS#8) into -dir, then serves
// net/http/pprof on -addr, requiring a client certificate from the same CA. Standard library
// only; "ready" on stdout once it listens.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

var sink [][]byte

func cert(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		log.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		log.Fatal(err)
	}
	return c, key
}

func writePEM(path, kind string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		log.Fatal(err)
	}
}

func main() {
	runtime.MemProfileRate = 1
	dir := flag.String("dir", ".", "where to write ca.pem, client.pem, client-key.pem")
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()

	now := time.Now()
	ca, caKey := cert(&x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "heapdoc test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}, nil, nil)
	server, serverKey := cert(&x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, caKey)
	client, clientKey := cert(&x509.Certificate{
		SerialNumber: big.NewInt(3),
		Subject:      pkix.Name{CommonName: "heapdoc"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca, caKey)

	writePEM(filepath.Join(*dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	writePEM(filepath.Join(*dir, "client.pem"), "CERTIFICATE", client.Raw)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(clientKey)
	if err != nil {
		log.Fatal(err)
	}
	writePEM(filepath.Join(*dir, "client-key.pem"), "PRIVATE KEY", pkcs8)

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{TLSConfig: &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{server.Raw}, PrivateKey: serverKey}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}}
	// Something to see in the heap profile.
	for i := 0; i < 2000; i++ {
		sink = append(sink, make([]byte, 4096))
	}
	fmt.Println("ready", ln.Addr().String())
	log.Fatal(srv.ServeTLS(ln, "", ""))
}
