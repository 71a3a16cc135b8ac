"""Every error ecli reports to a user, in one tree.

A leaf module: it imports nothing else of the project, so any layer can raise
these without pulling in the rest.

    EcliError                 message, hint and a stable reference
    ├── UsageError            bad command-line input (exit 2)
    ├── ReferenceError_       a package reference that does not parse
    ├── NotFoundError         no such package, version, source or file
    ├── SourceError           a JSON index that cannot be fetched or read
    │   └── IndexTrustError       a signed index refused: key, replay, downgrade, tampering
    ├── RegistryError         an OCI registry failed or answered wrongly
    │   ├── DigestMismatchError   content does not match its digest
    │   └── TransportError        below HTTP: refused, timed out, TLS, name lookup
    ├── ArtifactError         an artifact whose content is malformed
    ├── SignatureError        no valid signature by the key asked for, or a bad key file
    ├── PolicyError           refused by the policy (policy.json), or a bad policy file
    ├── BuildError            `ecli build` failed
    ├── PublishError          `ecli publish`: the index checkout, its validation, git
    ├── StateError            the installed-packages state file is unreadable
    ├── EngineError           no container engine (podman/docker) to run an image
    ├── LifecycleError        a detached run that failed to start or to stop
    └── RuntimeLoadError      the kernel side: open, load, attach
        ├── PrivilegeError    not root / a capability is missing
        ├── KernelFeatureError    the kernel lacks what the program needs
        └── VerifierError     the verifier rejected a program; keeps its log

The CLI maps these to exit codes and one-line messages in one place
(`ecli.cli.main`, printed by `ecli.cli.render.show_error`, which makes message
and hint inert: they may quote a registry or an artifact); nothing else
prints an error.

`reference` is kept, and shown, the way pip shows its diagnostic references:
a stable word a script or a bug report can name while the wording of the
message changes. It is printed as `reference: ...` with -v and is the
`reference` field of the `{"error": ...}` document that commands run with
--json write on stdout.
"""

from __future__ import annotations


class EcliError(Exception):
    """Base of every error a user may see: one line, an optional hint."""

    exit_code = 1
    reference = "error"
    multiline = False  # True where the message carries a log's lines (the kernel's)

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(EcliError):
    exit_code = 2
    reference = "usage"


class ReferenceError_(EcliError):
    exit_code = 2
    reference = "bad-reference"


class NotFoundError(EcliError):
    reference = "not-found"


class SourceError(EcliError):
    reference = "source"


class IndexTrustError(SourceError):
    """A source's index refused by its signed root (ecli.packages.indextrust): never
    replaced by the cached copy, as an unreachable source's is."""

    reference = "index-trust"


class RegistryError(EcliError):
    reference = "registry"


class DigestMismatchError(RegistryError):
    reference = "digest-mismatch"


class TransportError(RegistryError):
    """A connection that failed below HTTP. `kind` (unreachable, timeout, tls, broken),
    `host` and `reason` let the caller word it with what it knows (the reference)."""

    reference = "transport"

    def __init__(self, message: str, *, kind: str, host: str, reason: str,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.kind = kind
        self.host = host
        self.reason = reason


class ArtifactError(EcliError):
    reference = "bad-artifact"


class SignatureError(EcliError):
    """`reason` is a stable word for scripts: no-signature, other-digest, wrong-key,
    other-repository, garbled, too-large, key (a key file that cannot be used),
    unsigned (a hub package without a signer, refused under `signatures = require`),
    wrong-identity, wrong-issuer (a keyless certificate for someone else), invalid (a
    keyless bundle whose chain, log entry or signature does not verify)."""

    reference = "signature"

    def __init__(self, message: str, *, reason: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason
        self.reference = f"signature-{reason}"


class PolicyError(EcliError):
    """Refused by the operator's policy (policy.json), or a policy file that is not valid."""

    reference = "policy"


class BuildError(EcliError):
    reference = "build"


class PublishError(EcliError):
    reference = "publish"


class LifecycleError(EcliError):
    reference = "lifecycle"
    multiline = True  # a detached run's failure quotes the run's own error, a verifier log


class StateError(EcliError):
    reference = "state"


class EngineError(EcliError):
    reference = "container-engine"


class RuntimeLoadError(EcliError):
    reference = "load"
    multiline = True  # the last lines of libbpf's or the verifier's log


class PrivilegeError(RuntimeLoadError):
    reference = "privilege"


class KernelFeatureError(RuntimeLoadError):
    reference = "kernel-feature"


class VerifierError(RuntimeLoadError):
    reference = "verifier"

    def __init__(self, message: str, *, log: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.log = log


class WasmError(EcliError):
    """A wasm-bpf module that cannot run, or that misused a host function."""

    reference = "wasm"
