package sut

import (
	"fmt"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backuppvc-conformance/harness/suites/lane"
)

// The names velero install gives these objects; Velero's code looks some of them up by name
// (the node-agent DaemonSet, the default BackupStorageLocation).
const (
	veleroServiceAccount = "velero"
	veleroCredentials    = "cloud-credentials"
	nodeAgentDaemonSet   = "node-agent"
	defaultBSL           = "default"
	veleroBucket         = "velero"
	// s3Region is any region: versitygw serves one and Velero's aws plugin needs it named.
	s3Region = "minio"
)

var managed = lane.ManagedLabels

// veleroObjects are what velero install creates in the cluster, less the server Deployment,
// whose process runs on the host here: the service account and its binding, the credentials
// secret, the node-agent DaemonSet (its pod template is where Velero's exposer takes the
// backupPod's image, env and service account from, and its ready pods are what Velero's CSI
// plugin checks before it creates a DataUpload; kwok runs them, the node-agent processes stand
// for their containers), and the default BackupStorageLocation at the S3 URL.
func veleroObjects(ns, image, s3URL string, credentials []byte) []client.Object {
	nodeAgentLabels := map[string]string{"name": nodeAgentDaemonSet, "component": "velero", "role": "node-agent"}
	return []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: veleroServiceAccount, Labels: managed(map[string]string{"component": "velero"})}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "velero-" + ns, Labels: managed(map[string]string{"component": "velero"})},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: veleroServiceAccount}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: veleroCredentials, Labels: managed(map[string]string{"component": "velero"})},
			Data: map[string][]byte{"cloud": credentials}},
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: nodeAgentDaemonSet, Labels: managed(map[string]string{"component": "velero"})},
			Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"name": nodeAgentDaemonSet}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: managed(nodeAgentLabels)},
					Spec: corev1.PodSpec{ServiceAccountName: veleroServiceAccount,
						Containers: []corev1.Container{{Name: nodeAgentDaemonSet, Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
							Command: []string{"/velero"}, Args: []string{"node-agent", "server", "--features=EnableCSI"},
							Env: []corev1.EnvVar{
								{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
								{Name: "VELERO_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
								{Name: "AWS_SHARED_CREDENTIALS_FILE", Value: "/credentials/cloud"},
							},
							VolumeMounts: []corev1.VolumeMount{{Name: "cloud-credentials", MountPath: "/credentials"}, {Name: "scratch", MountPath: "/scratch"}}}},
						Volumes: []corev1.Volume{
							{Name: "cloud-credentials", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: veleroCredentials}}},
							{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
						}}}}},
		&velerov1.BackupStorageLocation{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: defaultBSL, Labels: managed(map[string]string{"component": "velero"})},
			Spec: velerov1.BackupStorageLocationSpec{Provider: "aws", Default: true,
				StorageType: velerov1.StorageType{ObjectStorage: &velerov1.ObjectStorageLocation{Bucket: veleroBucket}},
				Config:      map[string]string{"region": s3Region, "s3ForcePathStyle": "true", "s3Url": s3URL}}},
	}
}

// awsCredentials is the aws-ini file Velero's aws plugin reads (AWS_SHARED_CREDENTIALS_FILE).
func awsCredentials(access, secret string) []byte {
	return fmt.Appendf(nil, "[default]\naws_access_key_id=%s\naws_secret_access_key=%s\n", access, secret)
}
