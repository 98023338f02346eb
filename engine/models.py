"""Durable state of the engine. Every resource of the v1 contract has its table here.

Blobs (storage objects, extension packages, profile data dirs) live on disk under VAR_DIR;
the rows here describe them. Secrets (vault passwords and TOTP seeds, AI keys) are stored only
as Fernet ciphertext (see engine/crypto.py).
"""

import uuid

from django.db import models
from django.db.models import Q


class ApiKey(models.Model):
    SCOPES = ("admin", "operator", "read")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    name = models.CharField(max_length=200)
    scope = models.CharField(max_length=16, choices=[(s, s) for s in SCOPES])
    # sha256 hex of the whole key; the key itself is shown once by createapikey.
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Written at most once a minute per key (engine.api.auth): close enough to tell a key in use
    # from a forgotten one, without a write on every request.
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # A team's key (a console's, which every user of that console shares): the per-key limits
    # (ENGINE_MAX_RUNTIMES_PER_KEY, ENGINE_MAX_WAITS_PER_KEY, ENGINE_RATE_LIMIT_PER_MINUTE) do not
    # apply to it; the engine-wide ones do. A script's key keeps them.
    team = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.name} ({self.scope})"


class Workspace(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    name = models.CharField(max_length=200)
    mounts = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["-created_at", "-id"], name="workspace_page")]

    def __str__(self) -> str:
        return self.name


class Runtime(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        STOPPED = "stopped"
        FAILED = "failed"

    class StopReason(models.TextChoices):
        REQUESTED = "requested"
        IDLE = "idle"
        ENGINE_SHUTDOWN = "engine_shutdown"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="runtimes")
    alias = models.CharField(max_length=63)
    kind = models.CharField(max_length=16, default="browser")
    driver = models.CharField(max_length=16, default="playwright")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    launch_mode = models.CharField(max_length=16, default="ephemeral")
    profile = models.ForeignKey(
        "BrowserProfile", null=True, blank=True, on_delete=models.SET_NULL, related_name="runtimes"
    )
    # The effective LaunchConfig after defaults (never carries a proxy password back out).
    config = models.JSONField(default=dict)
    # The effective (possibly narrowed) mounts of this runtime: its workspace's, within what its
    # launch asked for (`requested_mounts`); kept in step when the workspace's change (mounts.follow).
    mounts = models.JSONField(default=dict)
    # The narrowing its launch asked for ({}: none, the workspace's whole); null for runs from
    # before it was kept, which do not follow their workspace.
    requested_mounts = models.JSONField(null=True, blank=True)
    # Named references the runtime holds: [{alias, id, type, url?}]
    bindings = models.JSONField(default=list)
    # The launcher's own labels ({string: string}, bounded by the API); runs are filtered by them.
    metadata = models.JSONField(default=dict)
    default_context_id = models.CharField(max_length=64, blank=True)
    default_page_id = models.CharField(max_length=64, blank=True)
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.TextField(blank=True)
    # Why a stopped runtime stopped (requested | idle | engine_shutdown); empty while it runs
    # and for a failed one, whose failure_code says why.
    stop_reason = models.CharField(max_length=32, choices=StopReason.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    last_sequence = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "alias"],
                condition=Q(status="active"),
                name="one_active_runtime_per_alias",
            ),
            models.UniqueConstraint(
                fields=["profile"],
                condition=Q(status="active"),
                name="one_active_runtime_per_profile",
            ),
        ]
        indexes = [models.Index(fields=["workspace", "alias", "-created_at"], name="runtime_alias")]

    def __str__(self) -> str:
        return f"{self.alias} ({self.status})"


class RuntimeEvent(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    runtime = models.ForeignKey(Runtime, on_delete=models.CASCADE, related_name="events")
    workspace_id = models.UUIDField(db_index=True)
    sequence = models.BigIntegerField()
    event_type = models.CharField(max_length=64)
    event_data = models.JSONField(default=dict)
    operation_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["runtime", "sequence"], name="event_sequence_per_runtime")
        ]


class Operation(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        CANCELLING = "cancelling"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"
        TIMED_OUT = "timed_out"

    FINISHED = ("succeeded", "failed", "cancelled", "timed_out")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="operations")
    runtime_alias = models.CharField(max_length=63, blank=True)
    runtime_id = models.UUIDField(null=True, blank=True)
    call = models.CharField(max_length=100)
    args = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.JSONField(default=dict)
    result = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)


class OperationTraceEntry(models.Model):
    """One model request of an agent operation and what came of it, for people to follow.

    What the model saw (system text and prompt: the page snapshot, which never carries a secret
    or a password field's value), what it decided (its tool calls), what happened (the action's
    outcome), and what it cost (tokens, time). Never a key: provider and model only.
    """

    id = models.BigAutoField(primary_key=True)
    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="trace_entries")
    sequence = models.PositiveIntegerField()
    step = models.PositiveIntegerField()
    provider = models.CharField(max_length=32)
    model = models.CharField(max_length=200)
    system = models.TextField()
    prompt = models.TextField()
    tools = models.JSONField(default=list)  # names of the tools the model could choose from
    response = models.JSONField(null=True, blank=True)  # {toolCalls: [{name, arguments}], text}
    outcome = models.JSONField(null=True, blank=True)  # {ok, action, description, error?}
    error = models.JSONField(null=True, blank=True)  # {code, message} when the request failed
    usage = models.JSONField(default=dict)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["operation", "sequence"], name="one_trace_entry_per_sequence")
        ]


class IdempotencyRecord(models.Model):
    """The first response to a create with an Idempotency-Key, replayed for the same key+body.

    The response is kept only as Fernet ciphertext (an execute's result may carry what vault.read
    returned), and a record expires after ENGINE_IDEMPOTENCY_TTL_SECONDS.
    """

    PENDING = 0  # the status of a claimed key whose create has not answered yet (no response kept)

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE)
    scope = models.CharField(max_length=300)  # method + route path
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_ciphertext = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "scope", "key"], name="one_response_per_key")
        ]


class Update(models.Model):
    """The organisation-wide update log; `id` is the SSE sequence (monotonic)."""

    id = models.BigAutoField(primary_key=True)
    type = models.CharField(max_length=64)
    workspace_id = models.UUIDField(null=True, blank=True)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)


class BrowserProfile(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    config = models.JSONField(default=dict)
    extension_ids = models.JSONField(default=list)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)


class BrowserExtension(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=64)
    format = models.CharField(max_length=8)  # zip | crx
    manifest_version = models.PositiveSmallIntegerField()
    permissions = models.JSONField(default=list)
    content_hash = models.CharField(max_length=80)
    size_bytes = models.BigIntegerField()
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)


class StorageObject(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    namespace = models.CharField(max_length=200)
    path = models.CharField(max_length=1024)
    size_bytes = models.BigIntegerField()
    content_type = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    source = models.CharField(max_length=32, default="upload")
    runtime_id = models.UUIDField(null=True, blank=True)
    # Name of the blob file under VAR_DIR/storage/blobs (written before the row commits).
    blob = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["namespace", "path"], name="one_object_per_path")]


class Artifact(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="artifacts")
    runtime_alias = models.CharField(max_length=63, blank=True)
    runtime_id = models.UUIDField(null=True, blank=True)
    operation_id = models.UUIDField(null=True, blank=True)
    kind = models.CharField(max_length=16)  # download | screenshot | pdf | export
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=200)
    size_bytes = models.BigIntegerField()
    storage_namespace = models.CharField(max_length=200)
    storage_path = models.CharField(max_length=1024)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)


class VaultEntry(models.Model):
    key = models.CharField(max_length=256, primary_key=True)
    label = models.CharField(max_length=200, blank=True)
    username = models.CharField(max_length=500, blank=True)
    password_ciphertext = models.BinaryField(null=True)
    totp_ciphertext = models.BinaryField(null=True)
    origins = models.JSONField(default=list)
    origin_patterns = models.JSONField(default=list)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


class AiCredential(models.Model):
    id = models.CharField(max_length=64, primary_key=True)
    provider = models.CharField(max_length=32)
    label = models.CharField(max_length=200)
    api_key_ciphertext = models.BinaryField()
    base_url = models.CharField(max_length=500, blank=True)
    default_model = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


class Recording(models.Model):
    """What a runtime's browser showed, frame by frame, per tab (files under VAR_DIR/recordings).

    `encoding` while the runtime runs and until its files are finalised, then `ready`; once
    `expires_at` passes the files are deleted and the row stays as `expired`.
    """

    class Status(models.TextChoices):
        ENCODING = "encoding"
        READY = "ready"
        EXPIRED = "expired"

    runtime = models.OneToOneField(
        Runtime, primary_key=True, on_delete=models.CASCADE, related_name="recording"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ENCODING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.BigIntegerField(null=True, blank=True)
    # [{id, url}] of every tab with at least one frame, in the order they first appeared.
    tabs = models.JSONField(default=list)
    frame_count = models.IntegerField(default=0)
    size_bytes = models.BigIntegerField(default=0)
    # "" or why recording stopped early: "size" or "duration" (ENGINE_RECORDING_MAX_*).
    truncated = models.CharField(max_length=16, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
