package local

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/backuppvc-conformance/harness/internal/proc"
)

// kwokctlPorts reads the TCP ports kwokctl chose for a cluster from the configuration it saved,
// the cluster's kwok.yaml: the options its binary runtime fills with a free port (kwok v0.8.0's
// setupPorts) when they are not given, those of the components it did not start left at zero.
func kwokctlPorts(path string) ([]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kwokctl ports: %w", err)
	}
	docs := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := docs.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("kwokctl ports: %s: %w", path, err)
		}
		var conf struct {
			Kind    string `json:"kind"`
			Options struct {
				EtcdPeerPort              int `json:"etcdPeerPort"`
				EtcdPort                  int `json:"etcdPort"`
				KubeApiserverPort         int `json:"kubeApiserverPort"`
				KwokControllerPort        int `json:"kwokControllerPort"`
				KubeControllerManagerPort int `json:"kubeControllerManagerPort"`
				KubeSchedulerPort         int `json:"kubeSchedulerPort"`
				MetricsServerPort         int `json:"metricsServerPort"`
				JaegerOtlpGrpcPort        int `json:"jaegerOtlpGrpcPort"`
			} `json:"options"`
		}
		if err := yaml.Unmarshal(doc, &conf); err != nil {
			return nil, fmt.Errorf("kwokctl ports: %s: %w", path, err)
		}
		if conf.Kind != "KwokctlConfiguration" {
			continue
		}
		o := conf.Options
		ports := slices.DeleteFunc([]int{o.EtcdPeerPort, o.EtcdPort, o.KubeApiserverPort, o.KwokControllerPort,
			o.KubeControllerManagerPort, o.KubeSchedulerPort, o.MetricsServerPort, o.JaegerOtlpGrpcPort}, func(p int) bool { return p == 0 })
		slices.Sort(ports)
		return ports, nil
	}
	return nil, fmt.Errorf("kwokctl ports: %s holds no KwokctlConfiguration", path)
}

// waitListening waits until something accepts connections on each of ports on 127.0.0.1, trying
// every 50 ms; on timeout it names the ports that never did.
func waitListening(ctx context.Context, ports []int, timeout time.Duration) error {
	waiting := slices.Clone(ports)
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		waiting = slices.DeleteFunc(waiting, func(p int) bool {
			return proc.Accepting(net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		})
		return len(waiting) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("nothing listens on 127.0.0.1 port(s) %v after %v", waiting, timeout)
	}
	return nil
}
