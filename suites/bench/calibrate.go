package bench

import (
	"encoding/json"
	"fmt"
	"time"
)

// calibrationObject is a small object like the API objects a run encodes and decodes all along.
type calibrationObject struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
	Values []int             `json:"values"`
}

// Calibrate times a fixed single-goroutine workload: 200 JSON round trips of 1,000 small objects,
// the kind of work that fills a run's CPU (0.7 s on this machine in a fast hour). This machine's
// speed drifts by half within an hour, so a time to verdict is given with this yardstick, measured
// just before it.
func Calibrate() (time.Duration, error) {
	objects := make([]calibrationObject, 1000)
	for i := range objects {
		objects[i] = calibrationObject{Name: fmt.Sprintf("object-%d", i), Labels: map[string]string{"app": "velero", "shard": fmt.Sprint(i % 7)}, Values: []int{i, 2 * i, 3 * i}}
	}
	start := time.Now()
	for range 200 {
		data, err := json.Marshal(objects)
		if err != nil {
			return 0, fmt.Errorf("bench: calibrate: %w", err)
		}
		var back []calibrationObject
		if err := json.Unmarshal(data, &back); err != nil || len(back) != len(objects) {
			return 0, fmt.Errorf("bench: calibrate: %d objects back of %d: %v", len(back), len(objects), err)
		}
	}
	return time.Since(start), nil
}
