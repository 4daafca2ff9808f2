package sim

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Storage as kind has it: a default StorageClass "standard" of Rancher's
// local-path provisioner, binding when a pod first uses the claim, and a
// played provisioner that makes a host-path PersistentVolume on the node
// the scheduler chose. A claim naming a class the cluster lacks (a
// production class such as "gp3") is bound at once rather than left
// Pending, so a production-shaped chart comes up. No data is written
// anywhere: the volume exists only as an object, as the pods that use it do.

const (
	// StorageClass is the simulated cluster's default class, named as kind's.
	StorageClass       = "standard"
	localPath          = "rancher.io/local-path"
	annSelectedNode    = "volume.kubernetes.io/selected-node"
	annProvisioner     = "volume.kubernetes.io/storage-provisioner"
	annProvisionedBy   = "pv.kubernetes.io/provisioned-by"
	provisionerRefresh = time.Second
)

func createStorageClass(ctx context.Context, s *starting) error {
	mode := storagev1.VolumeBindingWaitForFirstConsumer
	reclaim := corev1.PersistentVolumeReclaimDelete
	_, err := s.cs.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{Name: StorageClass,
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner: localPath, VolumeBindingMode: &mode, ReclaimPolicy: &reclaim,
	}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// provision plays the local-path provisioner until ctx ends.
func provision(ctx context.Context, h *Host) error {
	for {
		if err := provisionOnce(ctx, h.Kube); err != nil && ctx.Err() == nil {
			h.Log.Debug("simulated local-path provisioner", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(provisionerRefresh):
		}
	}
}

func provisionOnce(ctx context.Context, kc kubernetes.Interface) error {
	claims, err := kc.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, pvc := range claims.Items {
		if pvc.Spec.VolumeName != "" || pvc.DeletionTimestamp != nil {
			continue
		}
		node := pvc.Annotations[annSelectedNode]
		switch {
		case pvc.Annotations[annProvisioner] == localPath && node != "":
		case missingClass(ctx, kc, pvc.Spec.StorageClassName):
			// A production-shaped chart names a class this cluster lacks
			// ("gp3", "premium-rwo"): the claim is bound at once, on no
			// node in particular, rather than left Pending forever.
			node = ""
		default:
			continue
		}
		if err := createVolume(ctx, kc, &pvc, node); err != nil {
			return err
		}
	}
	// Released volumes of the Delete policy go, as the provisioner deletes them.
	vols, err := kc.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, pv := range vols.Items {
		if pv.Annotations[annProvisionedBy] == localPath && pv.Status.Phase == corev1.VolumeReleased &&
			pv.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete {
			if err := kc.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	return nil
}

// missingClass reports whether a claim names a StorageClass the cluster
// does not have.
func missingClass(ctx context.Context, kc kubernetes.Interface, class *string) bool {
	if class == nil || *class == "" {
		return false
	}
	_, err := kc.StorageV1().StorageClasses().Get(ctx, *class, metav1.GetOptions{})
	return apierrors.IsNotFound(err)
}

func createVolume(ctx context.Context, kc kubernetes.Interface, pvc *corev1.PersistentVolumeClaim, node string) error {
	name := "pvc-" + string(pvc.UID)
	size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if size.IsZero() {
		size = resource.MustParse("1Gi")
	}
	class := StorageClass
	if pvc.Spec.StorageClassName != nil {
		class = *pvc.Spec.StorageClassName
	}
	modes := pvc.Spec.AccessModes
	if len(modes) == 0 {
		modes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	hostType := corev1.HostPathDirectoryOrCreate
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{annProvisionedBy: localPath}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   modes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			StorageClassName:              class,
			VolumeMode:                    pvc.Spec.VolumeMode,
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID, ResourceVersion: pvc.ResourceVersion},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: fmt.Sprintf("/var/local-path-provisioner/%s_%s_%s", name, pvc.Namespace, pvc.Name), Type: &hostType}},
		},
	}
	if node != "" {
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
		}}}}
	}
	_, err := kc.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{FieldManager: "local-path-provisioner"})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// builtins are what every simulated cluster plays, whatever runs on it.
var builtins = []Controller{{Name: "local-path-provisioner", Run: provision}}
