package admissionload

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// allowedMarker is what every allowing AdmissionReview answer holds (both
// controller-runtime's and AllowAll's encoders write it so).
var allowedMarker = []byte(`"allowed":true`)

// Drive posts body to url from clients concurrent clients, each with one
// keep-alive HTTPS connection of its own (HTTP/1.1, as the API server
// calls webhooks), one request after the other, until d has passed or ctx
// ends. A review counts when the answer is an HTTP 200 that allows the
// object; anything else is an error.
func Drive(ctx context.Context, name, url string, body []byte, tlsConfig *tls.Config, clients int, d time.Duration) Result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	results := make([]Result, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		wg.Go(func() { results[i] = client(ctx, url, body, tlsConfig) })
	}
	wg.Wait()
	total := Result{Name: name}
	for _, r := range results {
		total = total.Merge(r)
	}
	total.Elapsed = time.Since(start)
	return total
}

// client runs one client's loop until ctx ends.
func client(ctx context.Context, url string, body []byte, tlsConfig *tls.Config) Result {
	tr := &http.Transport{
		TLSClientConfig:     tlsConfig.Clone(),
		MaxIdleConns:        1,
		MaxIdleConnsPerHost: 1,
		MaxConnsPerHost:     1,
		IdleConnTimeout:     time.Minute,
		ForceAttemptHTTP2:   false,
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	r := Result{Latencies: make([]time.Duration, 0, 4096)}
	buf := bytes.NewBuffer(make([]byte, 0, 8192))
	for ctx.Err() == nil {
		start := time.Now()
		err := post(ctx, c, url, body, buf)
		if ctx.Err() != nil {
			// A request cut by the end of the round is neither a review
			// nor an error.
			break
		}
		if err != nil {
			r.Errors++
			if r.FirstError == "" {
				r.FirstError = err.Error()
			}
			continue
		}
		r.Latencies = append(r.Latencies, time.Since(start))
		r.Reviews++
	}
	return r
}

// post sends one review and checks the answer.
func post(ctx context.Context, c *http.Client, url string, body []byte, buf *bytes.Buffer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := io.Copy(buf, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, buf.Bytes())
	}
	if !bytes.Contains(buf.Bytes(), allowedMarker) {
		return fmt.Errorf("not allowed: %.300s", buf.Bytes())
	}
	return nil
}
