// Package mailpit is the Mailpit built-in: a mail catcher, so that the
// sign-up and password-reset mails of a local environment land in an inbox
// a developer can read (web UI and API on port 8025) instead of reaching
// real people. Apps send to <component>.<namespace>.svc:1025 with any
// credentials or none.
//
// It is the worked example of ARCHITECTURE.md's "adding a built-in
// component": its catalogue entry (entry.yaml), rendering, readiness and
// the word on the simulated cluster all live here, and the package is
// registered in pkg/component/builtin.
package mailpit

import (
	"context"
	_ "embed"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"

	"kindred.dev/kindred/pkg/catalog"
	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/internal/kube"
)

// ID is Mailpit's catalogue entry: a stack asks for it with use: mailpit.
const ID = "mailpit"

// Mailpit's ports.
const (
	SMTPPort = 1025
	HTTPPort = 8025
)

//go:embed entry.yaml
var entry []byte

func init() {
	catalog.Register("pkg/component/mailpit/entry.yaml", entry)
	component.Register(Mailpit{})
}

// Mailpit is the built-in.
type Mailpit struct{}

// ID is "mailpit".
func (Mailpit) ID() string { return ID }

// Render renders Mailpit's Deployment and its Service, both named after
// the component, so a route can point at it by name (port 8025).
func (Mailpit) Render(_ context.Context, env *component.Env) ([]*unstructured.Unstructured, error) {
	e := env.Step.Entry
	if e == nil || e.Image == "" || e.Version == "" {
		return nil, fmt.Errorf("the %s catalogue entry names no image and version", ID)
	}
	return objects(env.Step.Component.Name, env.Namespace, e.Image+":"+e.Version)
}

func objects(name, ns, image string) ([]*unstructured.Unstructured, error) {
	labels := map[string]string{"app.kubernetes.io/name": ID, "app.kubernetes.io/instance": name, "app.kubernetes.io/managed-by": "kindred"}
	one := int32(1)
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/instance": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  ID,
					Image: image,
					// Apps configured with SMTP credentials or STARTTLS
					// off keep working: any login is accepted, in the clear.
					Env: []corev1.EnvVar{
						{Name: "MP_SMTP_AUTH_ACCEPT_ANY", Value: "1"},
						{Name: "MP_SMTP_AUTH_ALLOW_INSECURE", Value: "1"},
						{Name: "MP_MAX_MESSAGES", Value: "5000"},
					},
					Ports: []corev1.ContainerPort{
						{Name: "smtp", ContainerPort: SMTPPort},
						{Name: "http", ContainerPort: HTTPPort},
					},
					ReadinessProbe: &corev1.Probe{
						ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("http")}},
						PeriodSeconds: 2, FailureThreshold: 30,
					},
				}}},
			},
		},
	}
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app.kubernetes.io/instance": name},
			Ports: []corev1.ServicePort{
				{Name: "smtp", Port: SMTPPort, TargetPort: intstr.FromString("smtp")},
				{Name: "http", Port: HTTPPort, TargetPort: intstr.FromString("http")},
			},
		},
	}
	return kube.ToUnstructured(dep, svc)
}
