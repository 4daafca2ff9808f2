// Package job is the jobs built-in: a stack's one-off Jobs and CronJobs.
package job

import (
	"context"
	"sort"

	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/plan"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/internal/kube"
)

// jobObjects renders a job: a Job that runs once, or a CronJob.
func jobObjects(j *api.Job) ([]*unstructured.Unstructured, error) {
	labels := map[string]string{"app.kubernetes.io/managed-by": "kindred", "kindred.dev/job": j.Name}
	var env []corev1.EnvVar
	for k, v := range j.Env {
		env = append(env, corev1.EnvVar{Name: k, Value: v})
	}
	sortEnv(env)
	backoff := int32(j.BackoffLimit)
	spec := batchv1.JobSpec{
		BackoffLimit: &backoff,
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: j.Name, Image: j.Image, Command: j.Command, Args: j.Args, Env: env}},
			},
		},
	}
	meta := metav1.ObjectMeta{Name: j.Name, Namespace: j.Namespace, Labels: labels}
	if j.Schedule != "" {
		return kube.ToUnstructured(&batchv1.CronJob{
			TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
			ObjectMeta: meta,
			Spec:       batchv1.CronJobSpec{Schedule: j.Schedule, JobTemplate: batchv1.JobTemplateSpec{Spec: spec}},
		})
	}
	return kube.ToUnstructured(&batchv1.Job{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}, ObjectMeta: meta, Spec: spec})
}

func sortEnv(env []corev1.EnvVar) {
	sort.Slice(env, func(i, k int) bool { return env[i].Name < env[k].Name })
}

// ID names the jobs built-in; it handles every job step.
const ID = "job"

func init() { component.Register(Jobs{}) }

// Jobs is the built-in.
type Jobs struct{}

// ID is "job".
func (Jobs) ID() string { return ID }

// StepKinds: every job step.
func (Jobs) StepKinds() []string { return []string{plan.KindJob} }

// Render renders the Job or CronJob.
func (Jobs) Render(ctx context.Context, env *component.Env) ([]*unstructured.Unstructured, error) {
	return jobObjects(env.Step.Job)
}

// Images is the job's image.
func (Jobs) Images(env *component.Env) ([]string, error) {
	return []string{env.Step.Job.Image}, nil
}
