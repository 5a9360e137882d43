using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Imagebin.Storage;

/// <summary>
/// Mutual exclusion per blob, held while its bytes and its reference count change together (see <see cref="BlobReferences"/>).
/// </summary>
public interface IBlobLocks
{
    ValueTask<IAsyncDisposable> AcquireAsync(string sha256, CancellationToken cancellationToken);

    /// <summary>
    /// Mutual exclusion per variant (its key in the store), held while one node checks for it and makes it, so that nodes
    /// asking for the same new variant at once encode it once between them. Separate from the blob's own lock, so an
    /// upload or delete of the blob never waits for an encode.
    /// </summary>
    ValueTask<IAsyncDisposable> AcquireVariantAsync(string variantKey, CancellationToken cancellationToken);
}

/// <summary>One node: striped in-process locks.</summary>
public sealed class LocalBlobLocks : IBlobLocks
{
    private readonly SemaphoreSlim[] _stripes = Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1)).ToArray();
    private readonly SemaphoreSlim[] _variantStripes = Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    public async ValueTask<IAsyncDisposable> AcquireAsync(string sha256, CancellationToken cancellationToken)
    {
        var stripe = _stripes[Convert.ToInt32(sha256[..2], 16) % _stripes.Length];
        await stripe.WaitAsync(cancellationToken);
        return new Release(stripe);
    }

    public async ValueTask<IAsyncDisposable> AcquireVariantAsync(string variantKey, CancellationToken cancellationToken)
    {
        var stripe = _variantStripes[(int)((uint)BlobLockKeys.Of(variantKey) % _variantStripes.Length)];
        await stripe.WaitAsync(cancellationToken);
        return new Release(stripe);
    }

    private sealed class Release(SemaphoreSlim stripe) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            stripe.Release();
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>
/// Many nodes: a PostgreSQL session advisory lock keyed by the blob's hash, on a connection held for the duration,
/// so an upload on one node and the last delete of the same bytes on another never interleave. If the connection
/// drops, PostgreSQL releases the lock with it.
/// </summary>
public sealed class PostgresBlobLocks(NpgsqlDataSource dataSource) : IBlobLocks
{
    /// <summary>The first of the two advisory-lock keys: a namespace, so these locks meet no other use of advisory locks.</summary>
    private const int Namespace = 0x626c6f62; // "blob"

    private const int VariantNamespace = 0x76726e74; // "vrnt"

    public ValueTask<IAsyncDisposable> AcquireAsync(string sha256, CancellationToken cancellationToken) =>
        AcquireAsync(Namespace, KeyOf(sha256), cancellationToken);

    public ValueTask<IAsyncDisposable> AcquireVariantAsync(string variantKey, CancellationToken cancellationToken) =>
        AcquireAsync(VariantNamespace, BlobLockKeys.Of(variantKey), cancellationToken);

    private async ValueTask<IAsyncDisposable> AcquireAsync(int space, int key, CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var command = new NpgsqlCommand("SELECT pg_advisory_lock($1, $2)", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = space });
            command.Parameters.Add(new NpgsqlParameter { Value = key });
            await command.ExecuteNonQueryAsync(cancellationToken);
            return new Release(connection, space, key);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private static int KeyOf(string sha256) => unchecked((int)Convert.ToUInt32(sha256[..8], 16));

    private sealed class Release(NpgsqlConnection connection, int space, int key) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await using var command = new NpgsqlCommand("SELECT pg_advisory_unlock($1, $2)", connection);
                command.Parameters.Add(new NpgsqlParameter { Value = space });
                command.Parameters.Add(new NpgsqlParameter { Value = key });
                await command.ExecuteNonQueryAsync(CancellationToken.None);
            }
            finally
            {
                // Back to the pool; had the unlock failed, the pool's reset (DISCARD ALL) would release it too.
                await connection.DisposeAsync();
            }
        }
    }
}

internal static class BlobLockKeys
{
    /// <summary>A 32-bit lock key for any string key (its SHA-256's first four bytes).</summary>
    public static int Of(string key) => BitConverter.ToInt32(SHA256.HashData(Encoding.UTF8.GetBytes(key)), 0);
}
