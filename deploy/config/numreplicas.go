package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// numReplicasAuto is the one string num_replicas accepts.
const numReplicasAuto = "auto"

// Replicas returns a fixed num_replicas of n.
func Replicas(n int) *NumReplicas { return &NumReplicas{Count: n} }

// AutoReplicas returns num_replicas: auto.
func AutoReplicas() *NumReplicas { return &NumReplicas{Auto: true} }

// String returns "auto" or the count.
func (n NumReplicas) String() string {
	if n.Auto {
		return numReplicasAuto
	}
	return strconv.Itoa(n.Count)
}

// MarshalJSON writes the string "auto" or the count as a JSON integer.
func (n NumReplicas) MarshalJSON() ([]byte, error) {
	if n.Auto {
		return []byte(`"auto"`), nil
	}
	return strconv.AppendInt(nil, int64(n.Count), 10), nil
}

// UnmarshalJSON accepts a JSON integer or the string "auto"; null leaves n
// unchanged. Negative counts decode; Validate rejects them with their path.
func (n *NumReplicas) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s != numReplicasAuto {
			return fmt.Errorf(`num_replicas: must be an integer or "auto", got string %q`, s)
		}
		*n = NumReplicas{Auto: true}
		return nil
	}
	c, err := strconv.ParseInt(string(b), 10, strconv.IntSize)
	if err != nil {
		return fmt.Errorf(`num_replicas: must be an integer or "auto", got %s`, truncateMsg(string(b), 40))
	}
	*n = NumReplicas{Count: int(c)}
	return nil
}

// truncateMsg shortens s to at most n runes for an error message.
func truncateMsg(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
