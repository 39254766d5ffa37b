/// The `batch/v1` Job that runs one runner: the fields the launcher sets, typed.
struct KubernetesJob: Codable, Sendable, Equatable {
    var apiVersion = "batch/v1"
    var kind = "Job"
    var metadata: Metadata
    var spec: Spec

    struct Metadata: Codable, Sendable, Equatable {
        var name: String
        var namespace: String
        var labels: [String: String]
    }

    struct Spec: Codable, Sendable, Equatable {
        /// One attempt: a runner that fails is reported, not retried with the same token.
        var backoffLimit = 0
        var activeDeadlineSeconds: Int
        var ttlSecondsAfterFinished: Int
        var template: Template
    }

    struct Template: Codable, Sendable, Equatable {
        var metadata: TemplateMetadata
        var spec: PodSpec
    }

    struct TemplateMetadata: Codable, Sendable, Equatable {
        var labels: [String: String]
    }

    struct PodSpec: Codable, Sendable, Equatable {
        var restartPolicy = "Never"
        var serviceAccountName: String?
        /// The runner needs no API access of its own.
        var automountServiceAccountToken = false
        var containers: [Container]
    }

    struct Container: Codable, Sendable, Equatable {
        var name = "runner"
        var image: String
        var command: [String]
        var args: [String]
        var env: [EnvVar]
        var resources: Resources
        var securityContext = SecurityContext()
    }

    /// A literal value, or (for the runner's token) a key of a Secret.
    struct EnvVar: Codable, Sendable, Equatable {
        var name: String
        var value: String?
        var valueFrom: Source?

        init(name: String, value: String) {
            self.name = name
            self.value = value
        }

        init(name: String, secret: String, key: String) {
            self.name = name
            valueFrom = Source(secretKeyRef: .init(name: secret, key: key))
        }

        struct Source: Codable, Sendable, Equatable {
            var secretKeyRef: SecretKeyRef
        }

        struct SecretKeyRef: Codable, Sendable, Equatable {
            var name: String
            var key: String
        }
    }

    struct Resources: Codable, Sendable, Equatable {
        var requests: [String: String]
        var limits: [String: String]
    }

    struct SecurityContext: Codable, Sendable, Equatable {
        var runAsNonRoot = true
        /// The image's user (deploy/kubernetes/Containerfile), numeric so runAsNonRoot is checkable.
        var runAsUser = 10001
        var allowPrivilegeEscalation = false
        var readOnlyRootFilesystem = true
        var capabilities = Capabilities()

        struct Capabilities: Codable, Sendable, Equatable {
            var drop = ["ALL"]
        }
    }
}

/// The `v1` Secret that holds one runner's one-time token, so that reading the Job (which far more
/// principals may do than reading Secrets) does not hand out the token — whoever presents it
/// first receives the job frame and its credentials. Owned by its Job once that exists, so
/// Kubernetes removes it with the Job; the launcher also deletes it when the runner ends.
struct KubernetesSecret: Codable, Sendable, Equatable {
    var apiVersion = "v1"
    var kind = "Secret"
    var metadata: KubernetesJob.Metadata
    var type = "Opaque"
    var stringData: [String: String]

    static let tokenKey = "token"
}
