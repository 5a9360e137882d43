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
