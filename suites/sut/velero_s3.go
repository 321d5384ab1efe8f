package sut

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// objectStoreName names the in-cluster object store's Deployment, Service and Secret.
const objectStoreName = "backuppvc-s3"

// s3Port is the object store's port, in the pod and on its Service.
const s3Port = 9000

// objectStore is versitygw serving the bucket from an emptyDir, behind a ClusterIP Service (last,
// so its cluster IP can go into the BackupStorageLocation: nothing needs the cluster's DNS). Its
// keys come from a Secret. The bucket is a folder at the top of the volume: a subPath mount of
// it makes the kubelet create it. The image is scratch: /tmp is an emptyDir.
func objectStore(ns, image, access, secret string) []client.Object {
	lbl := managed(map[string]string{"app.kubernetes.io/name": objectStoreName})
	key := func(k string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: objectStoreName}, Key: k}}
	}
	return []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: objectStoreName, Labels: lbl},
			StringData: map[string]string{"access": access, "secret": secret}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: objectStoreName, Labels: lbl},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(1)),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": objectStoreName}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbl},
					Spec: corev1.PodSpec{TerminationGracePeriodSeconds: ptr.To(int64(2)),
						Containers: []corev1.Container{{Name: "versitygw", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
							Command: []string{"/usr/local/bin/versitygw", "--port", fmt.Sprintf(":%d", s3Port), "--region", s3Region, "posix", "/data"},
							Env:     []corev1.EnvVar{{Name: "ROOT_ACCESS_KEY_ID", ValueFrom: key("access")}, {Name: "ROOT_SECRET_ACCESS_KEY", ValueFrom: key("secret")}},
							Ports:   []corev1.ContainerPort{{Name: "s3", ContainerPort: s3Port}},
							ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(s3Port)}},
								PeriodSeconds: 1},
							VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"},
								{Name: "data", MountPath: "/data/" + veleroBucket, SubPath: veleroBucket},
								{Name: "tmp", MountPath: "/tmp"}}}},
						Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
							{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: objectStoreName, Labels: lbl},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app.kubernetes.io/name": objectStoreName},
				Ports: []corev1.ServicePort{{Name: "s3", Port: s3Port, TargetPort: intstr.FromInt32(s3Port)}}}},
	}
}
