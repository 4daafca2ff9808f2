package sim

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ReadyDelay makes matching pods become Ready only after Delay, to mimic a
// real start-up time. A rule matches by pod label (Label is "key=value") or
// by the image of the pod's first container; set one of them.
type ReadyDelay struct {
	Label string
	Image string
	Delay time.Duration
}

// stages renders the kwok Stage objects of a simulated cluster: nodes that
// initialise and keep a heartbeat, pods that become Ready (after the delay of
// the first matching rule), pods that run to completion when their restart
// policy says so (Jobs), pods that go away when deleted, and LoadBalancer
// Services that get an address.
func stages(version string, defaultDelay time.Duration, rules []ReadyDelay) string {
	var b strings.Builder
	b.WriteString(nodeStages(version))

	// Pod ready: one stage per rule, and a default stage for pods that no
	// rule matches. Selectors are exclusive, so kwok never picks at random.
	var exclude []string
	for i, r := range rules {
		key, values := ruleSelector(r)
		b.WriteString(podReadyStage(fmt.Sprintf("pod-ready-rule-%d", i), r.Delay,
			append(slicesClone(exclude), expr(key, "In", values...))))
		exclude = append(exclude, expr(key, "NotIn", values...))
	}
	b.WriteString(podReadyStage("pod-ready", defaultDelay, exclude))
	b.WriteString(podLifecycleStages)
	b.WriteString(serviceStages)
	return b.String()
}

func ruleSelector(r ReadyDelay) (key string, values []string) {
	if r.Label != "" {
		k, v, _ := strings.Cut(r.Label, "=")
		return fmt.Sprintf(".metadata.labels.%q", k), []string{v}
	}
	return ".spec.containers.[0].image", []string{r.Image}
}

func expr(key, op string, values ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "    - key: %s\n      operator: %s\n", quote(key), op)
	if len(values) > 0 {
		b.WriteString("      values:\n")
		for _, v := range values {
			fmt.Fprintf(&b, "      - %s\n", quote(v))
		}
	}
	return b.String()
}

// quote writes s as a single-quoted YAML string.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func slicesClone(s []string) []string { return append([]string(nil), s...) }

func podReadyStage(name string, delay time.Duration, extra []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: %s
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
`, name)
	b.WriteString(expr(".metadata.deletionTimestamp", "DoesNotExist"))
	b.WriteString(expr(".status.podIP", "DoesNotExist"))
	for _, e := range extra {
		b.WriteString(e)
	}
	if delay > 0 {
		fmt.Fprintf(&b, "  delay:\n    durationMilliseconds: %d\n", delay.Milliseconds())
	}
	b.WriteString(`  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - {type: PodScheduled, status: "True", lastTransitionTime: {{ $now | Quote }}}
      - {type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }}}
      - {type: ContainersReady, status: "True", lastTransitionTime: {{ $now | Quote }}}
      - {type: Ready, status: "True", lastTransitionTime: {{ $now | Quote }}}
      {{ range .spec.readinessGates }}
      - {type: {{ .conditionType | Quote }}, status: "True", lastTransitionTime: {{ $now | Quote }}}
      {{ end }}
      containerStatuses:
      {{ range .spec.containers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        ready: true
        started: true
        restartCount: 0
        state: {running: {startedAt: {{ $now | Quote }}}}
      {{ end }}
      initContainerStatuses:
      {{ range .spec.initContainers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        ready: true
        restartCount: 0
        state: {terminated: {exitCode: 0, reason: Completed, startedAt: {{ $now | Quote }}, finishedAt: {{ $now | Quote }}}}
      {{ end }}
      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
      podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
      phase: Running
      startTime: {{ $now | Quote }}
`)
	return b.String()
}

const podLifecycleStages = `---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-complete
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: DoesNotExist
    - key: '.status.phase'
      operator: In
      values: ['Running']
    - key: '.spec.restartPolicy'
      operator: In
      values: ['Never', 'OnFailure']
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - {type: PodScheduled, status: "True", lastTransitionTime: {{ $now | Quote }}}
      - {type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }}}
      - {type: ContainersReady, status: "False", reason: PodCompleted, lastTransitionTime: {{ $now | Quote }}}
      - {type: Ready, status: "False", reason: PodCompleted, lastTransitionTime: {{ $now | Quote }}}
      containerStatuses:
      {{ range .spec.containers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        ready: false
        started: false
        restartCount: 0
        state: {terminated: {exitCode: 0, reason: Completed, startedAt: {{ $now | Quote }}, finishedAt: {{ $now | Quote }}}}
      {{ end }}
      phase: Succeeded
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-delete
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: Exists
  next:
    finalizers: {empty: true}
    delete: true
`

const serviceStages = `---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: service-load-balancer
spec:
  resourceRef: {apiGroup: v1, kind: Service}
  selector:
    matchExpressions:
    - key: '.spec.type'
      operator: In
      values: ['LoadBalancer']
    - key: '.status.loadBalancer.ingress'
      operator: DoesNotExist
  next:
    statusTemplate: |
      loadBalancer:
        ingress:
        - ip: 127.0.0.1
`

func nodeStages(version string) string {
	conditions := func(heartbeat string) string {
		var b strings.Builder
		b.WriteString("      conditions:\n")
		types := map[string]string{"Ready": "True", "MemoryPressure": "False", "DiskPressure": "False", "PIDPressure": "False", "NetworkUnavailable": "False"}
		names := make([]string, 0, len(types))
		for t := range types {
			names = append(names, t)
		}
		sort.Strings(names)
		for _, t := range names {
			reason := "KindredSim" + t
			fmt.Fprintf(&b, "      - {type: %s, status: %q, reason: %s, message: simulated by kindred, lastHeartbeatTime: %s, lastTransitionTime: {{ or .metadata.creationTimestamp $now | Quote }}}\n", t, types[t], reason, heartbeat)
		}
		return b.String()
	}
	return fmt.Sprintf(`---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: node-initialize
spec:
  resourceRef: {apiGroup: v1, kind: Node}
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: NotIn
      values: ['True']
  next:
    statusTemplate: |
      {{ $now := Now }}
%s      addresses:
      - {type: InternalIP, address: {{ NodeIP | Quote }}}
      - {type: Hostname, address: {{ .metadata.name | Quote }}}
      allocatable: {cpu: "32", memory: 128Gi, pods: "250", ephemeral-storage: 1Ti}
      capacity: {cpu: "32", memory: 128Gi, pods: "250", ephemeral-storage: 1Ti}
      nodeInfo:
        architecture: amd64
        operatingSystem: linux
        osImage: kindred simulated node
        kernelVersion: simulated
        containerRuntimeVersion: kwok://simulated
        kubeletVersion: %[2]s
        kubeProxyVersion: %[2]s
        machineID: ""
        systemUUID: ""
        bootID: ""
      phase: Running
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: node-heartbeat
spec:
  resourceRef: {apiGroup: v1, kind: Node}
  selector:
    matchExpressions:
    - key: '.status.phase'
      operator: In
      values: ['Running']
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: In
      values: ['True']
  delay:
    durationMilliseconds: 20000
    jitterDurationMilliseconds: 25000
  next:
    statusTemplate: |
      {{ $now := Now }}
%[3]s`, conditions("{{ $now | Quote }}"), version, conditions("{{ $now | Quote }}"))
}

// Controller is a controller the simulated cluster plays with kwok stages,
// for a component whose own controller cannot run here (no containers
// run): once every kind it names is served, a kwok process applies its
// stages. Components bring their own (see pkg/component's Simulator).
type Controller struct {
	// Name names the kwok process and its stages file.
	Name string
	// Kinds are group/version/Kind that must all be served first.
	Kinds []string
	// Stages are kwok Stage objects, as YAML.
	Stages string
	// Run plays the controller in Go until ctx ends, for what stages
	// cannot do: create objects, sign certificates, answer webhooks.
	Run func(ctx context.Context, h *Host) error
	// How says, for -v, whether the controller is real or played, and how.
	How string
	// Binaries are programs Run starts (a real controller), built on
	// first use with the control plane's (see EnsureBinaries).
	Binaries []GoBinary
}

// ReadyStage is a kwok stage that sets condition cond of every kind object
// to True, as the kind's controller would once it is done.
func ReadyStage(apiVersion, kind, cond string) string {
	return ReadyStageAfter(apiVersion, kind, cond, 0)
}

// ReadyStageAfter is ReadyStage after delay, as a controller that takes
// that long.
func ReadyStageAfter(apiVersion, kind, cond string, delay time.Duration) string {
	return fmt.Sprintf(`---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: %[4]s-%[3]s
spec:
  resourceRef: {apiGroup: %[1]s, kind: %[2]s}
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select( .type == "%[3]s" ) | .status'
      operator: NotIn
      values: ['True']
  delay: {durationMilliseconds: %[5]d}
  next:
    statusTemplate: |
      conditions:
      - {type: %[3]s, status: "True", reason: Simulated, message: "set by the simulated cluster", lastTransitionTime: {{ Now | Quote }}}
`, apiVersion, kind, cond, strings.ToLower(kind), delay.Milliseconds())
}
