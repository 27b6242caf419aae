package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// ErrReconfigureUnsupported means the replica does not implement
// POST /-/reconfigure (it answered 404, 405 or 501); it must be restarted to
// see a new user_config.
var ErrReconfigureUnsupported = errors.New("replica does not implement " + ReconfigurePath)

// Reconfigure sends userConfig (JSON) to the replica at addr with
// POST /-/reconfigure and returns nil once it answered 2xx.
func Reconfigure(ctx context.Context, client *http.Client, addr string, userConfig []byte) error {
	if len(userConfig) == 0 {
		userConfig = []byte("null")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+ReconfigurePath, bytes.NewReader(userConfig))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("reconfigure: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotImplemented:
		return ErrReconfigureUnsupported
	default:
		return fmt.Errorf("reconfigure: replica answered %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
}
