namespace Imagebin.Data;

// Timestamps are Unix epoch milliseconds: the contract's unit, ordered the same on SQLite and PostgreSQL.

public sealed class Account
{
    public required string Id { get; set; }
    public required string Name { get; set; }
    public string? Email { get; set; }
    public string? PasswordHash { get; set; }
    public string Role { get; set; } = AccountRoles.User;
    public bool Banned { get; set; }
    public bool AiOptOut { get; set; }
    public long CreatedAt { get; set; }
}

public static class AccountRoles
{
    public const string User = "user";
    public const string Admin = "admin";
}

public sealed class ApiKey
{
    /// <summary>The public half of the key, shown in lists; the secret half is only ever stored hashed.</summary>
    public required string Id { get; set; }
    public required string AccountId { get; set; }
    public required byte[] SecretHash { get; set; }
    /// <summary>Space-separated scopes.</summary>
    public required string Scopes { get; set; }
    public required string Audience { get; set; }
    public long CreatedAt { get; set; }
    public long? ExpiresAt { get; set; }
    public long? LastUsedAt { get; set; }
    public long? RevokedAt { get; set; }
}

public sealed class Item
{
    public required string Id { get; set; }
    public string? OwnerId { get; set; }
    public required string BlobSha256 { get; set; }
    public required string ContentType { get; set; }
    public required string Extension { get; set; }
    public long SizeBytes { get; set; }
    public int? Width { get; set; }
    public int? Height { get; set; }
    public int Frames { get; set; } = 1;
    public string? Title { get; set; }
    public string? Description { get; set; }
    /// <summary>Tags joined with commas (a tag never contains one).</summary>
    public string Tags { get; set; } = "";
    public string? Category { get; set; }
    public bool Private { get; set; }
    public string? ShareSecret { get; set; }
    public long CreatedAt { get; set; }
    public long? ExpiresAt { get; set; }
    public long Downloads { get; set; }
    public long? DlLimit { get; set; }
    public string ScanState { get; set; } = Data.ScanState.Pending;
    public string? ScanReason { get; set; }
    public string Classification { get; set; } = Data.Classification.Unknown;
    public string AiCaptionState { get; set; } = Data.AiCaptionState.Pending;
    public string? AiCaption { get; set; }
    public string AiTags { get; set; } = "";
    public bool AiOptOut { get; set; }
    /// <summary>Which captioner and model wrote the caption: <c>offline:offline-1</c>, <c>openai:qwen2.5-vl</c>.</summary>
    public string? AiCaptionSource { get; set; }
    /// <summary>Why the last caption attempt failed (when <see cref="AiCaptionState"/> is <c>failed</c>).</summary>
    public string? AiCaptionError { get; set; }
    /// <summary>The PDQ perceptual hash of the stored pixels (64 hex digits), once the scan computed it.</summary>
    public string? PdqHash { get; set; }
    public int? PdqQuality { get; set; }
    /// <summary>The ThumbHash of the picture (base64, ~25 bytes), the blurred preview shown while it loads; set by the scan.</summary>
    public string? Placeholder { get; set; }
    /// <summary>What each scan stage decided, as JSON (<c>Features.Moderation.ScanEvidence</c>).</summary>
    public string? ScanEvidence { get; set; }
    /// <summary>Place in the review queue: <see cref="ReviewRanks"/>, or null when nothing waits for a moderator.</summary>
    public int? ReviewRank { get; set; }
    public long? ReviewSince { get; set; }
    /// <summary>Distinct abuse reports not yet resolved by a review.</summary>
    public int OpenReports { get; set; }
    /// <summary>SHA-256 (hex) of an anonymous item's delete token; the token itself is shown to the uploader once.</summary>
    public string? DeleteTokenHash { get; set; }
}

public static class ReviewRanks
{
    /// <summary>Held or failed: not served to the public until a moderator decides.</summary>
    public const int Held = 0;

    /// <summary>Reported, still served: a moderator should look.</summary>
    public const int Reported = 1;
}

public static class ScanState
{
    public const string Pending = "pending";
    public const string Scanning = "scanning";
    public const string Passed = "passed";
    public const string Held = "held";
    public const string Blocked = "blocked";
    public const string Rejected = "rejected";
    public const string Removed = "removed";
    public const string Failed = "failed";
}

public static class Classification
{
    public const string Unknown = "unknown";
    public const string Safe = "safe";
    public const string Sensitive = "sensitive";
    public const string Explicit = "explicit";
    public const string Prohibited = "prohibited";

    public static readonly string[] All = [Unknown, Safe, Sensitive, Explicit, Prohibited];
}

public static class AiCaptionState
{
    public const string Pending = "pending";
    public const string Processing = "processing";
    public const string Ready = "ready";
    public const string Failed = "failed";
    public const string OptedOut = "opted_out";
    public const string Skipped = "skipped";
}

/// <summary>A stored blob: content-addressed by the SHA-256 of its bytes, shared by every item with those bytes.</summary>
public sealed class Blob
{
    public required string Sha256 { get; set; }
    public long Size { get; set; }
    public int RefCount { get; set; }
    public long CreatedAt { get; set; }
}

/// <summary>A unit of background work. The row is the truth; wake-ups are only hints.</summary>
public sealed class Job
{
    public long Id { get; set; }
    public required string Kind { get; set; }
    public required string Payload { get; set; }
    public string State { get; set; } = JobState.Queued;
    public int Attempts { get; set; }
    public int MaxAttempts { get; set; } = 5;
    public long RunAfter { get; set; }
    public string? LeaseOwner { get; set; }
    public long? LeaseUntil { get; set; }
    /// <summary>At most one unfinished job per key (e.g. <c>scan:{itemId}</c>).</summary>
    public string? UniqueKey { get; set; }
    public string? LastError { get; set; }
    public long CreatedAt { get; set; }
    public long? CompletedAt { get; set; }
}

public static class JobState
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
}

/// <summary>A known-bad hash: an exact SHA-256 of the bytes or a PDQ perceptual hash of the pixels.</summary>
public sealed class HashListEntry
{
    public long Id { get; set; }
    /// <summary><see cref="HashKinds"/>.</summary>
    public required string Kind { get; set; }
    /// <summary>64 lower-case hex digits.</summary>
    public required string Hash { get; set; }
    /// <summary><see cref="HashActions"/>.</summary>
    public required string Action { get; set; }
    public required string Reason { get; set; }
    /// <summary>Where the entry came from: <c>import</c>, or <c>removal:{item id}</c>.</summary>
    public required string Source { get; set; }
    public string? CreatedBy { get; set; }
    public long CreatedAt { get; set; }
}

public static class HashKinds
{
    public const string Sha256 = "sha256";
    public const string Pdq = "pdq";
}

public static class HashActions
{
    /// <summary>A match is blocked (<c>blocked</c>/<c>prohibited</c>) and never served.</summary>
    public const string Block = "block";

    /// <summary>A match waits for a moderator (<c>held</c>).</summary>
    public const string Hold = "hold";
}

/// <summary>An abuse report. A reporter (an account, or a browser's challenge identity) reports an item once.</summary>
public sealed class Report
{
    public required string Id { get; set; }
    public required string ItemId { get; set; }
    /// <summary>Who reported, for counting distinct reporters: <c>account:{id}</c>, or <c>address:{address}</c> from the report form.</summary>
    public required string Reporter { get; set; }
    public string? ReporterAccountId { get; set; }
    public required string Category { get; set; }
    public string? Details { get; set; }
    public long CreatedAt { get; set; }
    public long? ResolvedAt { get; set; }
    /// <summary>The review decision that resolved it (<c>approve</c> or <c>remove</c>).</summary>
    public string? Resolution { get; set; }
}

/// <summary>What is kept when a moderator removes an item, whatever its owner does afterwards.</summary>
public sealed class RemovalRecord
{
    public required string ItemId { get; set; }
    public string? OwnerId { get; set; }
    public long RemovedAt { get; set; }
    public string? RemovedBy { get; set; }
    public required string Reason { get; set; }
    public string? Category { get; set; }
    public required string BlobSha256 { get; set; }
    public string? PdqHash { get; set; }
    /// <summary>The item's metadata at removal, as JSON.</summary>
    public required string ItemSnapshot { get; set; }
    /// <summary>The reports on the item at removal, as JSON.</summary>
    public required string Reports { get; set; }
    /// <summary>The quarantined copy of the bytes, for categories whose evidence must be kept.</summary>
    public string? QuarantineKey { get; set; }
}

/// <summary>One entry of the audit trail: who did what to which item, when.</summary>
public sealed class AuditEvent
{
    public long Id { get; set; }
    public long At { get; set; }
    public string? ActorId { get; set; }
    public required string Action { get; set; }
    public string? ItemId { get; set; }
    /// <summary>JSON.</summary>
    public string? Detail { get; set; }
}

/// <summary>
/// A key of the OAuth authority: <c>sig</c> keys sign access and identity tokens (published in the JWKS), <c>enc</c> keys
/// encrypt the authority's own authorization codes and refresh tokens. Shared by every authority node.
/// </summary>
public sealed class AuthorityKey
{
    public required string Id { get; set; }
    /// <summary><c>sig</c> or <c>enc</c>.</summary>
    public required string Purpose { get; set; }
    /// <summary>The key material: PKCS#8 for a signing key, the raw bytes of a symmetric key.</summary>
    public required byte[] Material { get; set; }
    public long CreatedAt { get; set; }
    /// <summary>From when the key signs; published in the JWKS before that so that every verifier knows it in time.</summary>
    public long ActiveFrom { get; set; }
    /// <summary>When the key is dropped (no longer published or accepted).</summary>
    public long RetiresAt { get; set; }
}

/// <summary>A signed-in browser session of the authority; signing out or an admin revokes it on every node.</summary>
public sealed class AccountSession
{
    public required string Id { get; set; }
    public required string AccountId { get; set; }
    public long CreatedAt { get; set; }
    public long ExpiresAt { get; set; }
    public long? RevokedAt { get; set; }
    public string? UserAgent { get; set; }
}
