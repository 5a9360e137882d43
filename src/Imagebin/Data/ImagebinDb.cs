using System.Text;
using Microsoft.EntityFrameworkCore;

namespace Imagebin.Data;

/// <summary>The one model of the metadata store, shared by every provider.</summary>
public sealed class ImagebinDb(DbContextOptions<ImagebinDb> options) : DbContext(options)
{
    public DbSet<Account> Accounts => Set<Account>();
    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();
    public DbSet<Item> Items => Set<Item>();
    public DbSet<Blob> Blobs => Set<Blob>();
    public DbSet<Job> Jobs => Set<Job>();
    public DbSet<HashListEntry> HashListEntries => Set<HashListEntry>();
    public DbSet<Report> Reports => Set<Report>();
    public DbSet<RemovalRecord> RemovalRecords => Set<RemovalRecord>();
    public DbSet<AuditEvent> AuditEvents => Set<AuditEvent>();
    public DbSet<AuthorityKey> AuthorityKeys => Set<AuthorityKey>();
    public DbSet<AccountSession> AccountSessions => Set<AccountSession>();

    private const string OpenIddictPrefix = "OpenIddictEntityFrameworkCore";

    protected override void OnModelCreating(ModelBuilder model)
    {
        model.Entity<Account>(e =>
        {
            e.HasIndex(a => a.Name).IsUnique();
            e.Property(a => a.Id).HasMaxLength(16);
            e.Property(a => a.Name).HasMaxLength(64);
        });
        model.Entity<ApiKey>(e =>
        {
            e.HasIndex(k => k.AccountId);
            e.Property(k => k.Id).HasMaxLength(16);
        });
        model.Entity<Item>(e =>
        {
            e.Property(i => i.Id).HasMaxLength(16);
            e.Property(i => i.BlobSha256).HasMaxLength(64);
            // Keyset pagination of an owner's items, newest first.
            e.HasIndex(i => new { i.OwnerId, i.CreatedAt, i.Id });
            e.HasIndex(i => i.BlobSha256);
            e.HasIndex(i => i.ExpiresAt);
            e.HasIndex(i => new { i.ReviewRank, i.ReviewSince, i.Id });
        });
        model.Entity<HashListEntry>(e => e.HasIndex(h => new { h.Kind, h.Hash }).IsUnique());
        model.Entity<Report>(e => e.HasIndex(r => new { r.ItemId, r.Reporter }).IsUnique());
        model.Entity<RemovalRecord>(e => e.HasKey(r => r.ItemId));
        model.Entity<AuditEvent>(e => e.HasIndex(a => a.ItemId));
        model.Entity<AuthorityKey>(e => e.Property(k => k.Id).HasMaxLength(32));
        model.Entity<AccountSession>(e =>
        {
            e.Property(s => s.Id).HasMaxLength(32);
            e.HasIndex(s => s.AccountId);
        });
        // The OAuth authority's applications, authorizations, scopes and tokens (OpenIddict's stores).
        model.UseOpenIddict();
        model.Entity<Blob>(e =>
        {
            e.HasKey(b => b.Sha256);
            e.Property(b => b.Sha256).HasMaxLength(64);
        });
        model.Entity<Job>(e =>
        {
            e.HasIndex(j => new { j.State, j.RunAfter });
            e.HasIndex(j => j.UniqueKey).IsUnique();
        });

        // snake_case names, so the schema reads the same from psql and sqlite3.
        foreach (var entity in model.Model.GetEntityTypes())
        {
            var name = entity.ClrType.Name;
            entity.SetTableName(name.StartsWith(OpenIddictPrefix, StringComparison.Ordinal)
                ? "oauth_" + Plural(SnakeCase(name[OpenIddictPrefix.Length..].Split('`')[0]))
                : Plural(SnakeCase(name)));
            foreach (var property in entity.GetProperties())
            {
                property.SetColumnName(SnakeCase(property.Name));
            }

            foreach (var index in entity.GetIndexes())
            {
                index.SetDatabaseName($"ix_{entity.GetTableName()}_{string.Join("_", index.Properties.Select(p => SnakeCase(p.Name)))}");
            }
        }
    }

    private static string Plural(string name) =>
        name.EndsWith('y') && !"aeiou".Contains(name[^2]) ? name[..^1] + "ies" : name.EndsWith('s') || name.EndsWith('x') ? name + "es" : name + "s";

    private static string SnakeCase(string name)
    {
        var builder = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0 && !char.IsDigit(name[i - 1]))
            {
                builder.Append('_');
            }

            builder.Append(char.ToLowerInvariant(name[i]));
        }

        return builder.ToString();
    }
}
