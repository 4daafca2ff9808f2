package ready

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodTrouble(t *testing.T) {
	waiting := func(reason, msg string) corev1.ContainerState {
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
	}
	now := metav1.Now()
	tests := []struct {
		name string
		pod  corev1.Pod
		want string
	}{
		{"starting", corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
			{Name: "app", State: waiting("ContainerCreating", "")}}}}, ""},
		{"pending without a node yet", corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionFalse}}}}, ""},
		{"unschedulable", corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
				Message: "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."}}}},
			"Unschedulable (pod p): 0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."},
		{"image", corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
			{Name: "ok", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
			{Name: "app", State: waiting("ImagePullBackOff", "Back-off pulling image \"127.0.0.1:1/missing:1\"\nmore")}}}},
			`ImagePullBackOff (pod p, container app): Back-off pulling image "127.0.0.1:1/missing:1"`},
		{"init container first", corev1.Pod{Status: corev1.PodStatus{
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "migrate", State: waiting("CreateContainerConfigError", `secret "db" not found`)}},
			ContainerStatuses:     []corev1.ContainerStatus{{Name: "app", State: waiting("PodInitializing", "")}}}},
			`CreateContainerConfigError (pod p, container migrate): secret "db" not found`},
		{"crash loop", corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
			{Name: "app", RestartCount: 4, State: waiting("CrashLoopBackOff", "back-off 40s restarting failed container"),
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error"}}}}}},
			"CrashLoopBackOff (pod p, container app, exit code 2 Error, 4 restarts): back-off 40s restarting failed container"},
		{"being deleted", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now}, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
			{Name: "app", State: waiting("CrashLoopBackOff", "")}}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.pod.Name = "p"
			if got := PodTrouble(&tt.pod); got != tt.want {
				t.Errorf("PodTrouble = %q\nwant          %q", got, tt.want)
			}
		})
	}
}
