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
    /// upload or delete of the blob never waits for an encode. Only an optimisation: after <see cref="VariantLockWait"/>
    /// the caller goes on without it (null) and may encode the variant a second time, which is harmless.
    /// </summary>
    ValueTask<IAsyncDisposable?> AcquireVariantAsync(string variantKey, CancellationToken cancellationToken);

    /// <summary>How long a node waits for another to finish a variant before making it itself.</summary>
    static readonly TimeSpan VariantLockWait = TimeSpan.FromSeconds(20);
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

    public async ValueTask<IAsyncDisposable?> AcquireVariantAsync(string variantKey, CancellationToken cancellationToken)
    {
        var stripe = _variantStripes[(int)((uint)BlobLockKeys.Of(variantKey) % _variantStripes.Length)];
        return await stripe.WaitAsync(IBlobLocks.VariantLockWait, cancellationToken) ? new Release(stripe) : null;
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

    /// <summary>
    /// Polls <c>pg_try_advisory_lock</c> rather than waiting in <c>pg_advisory_lock</c>: a wait is bounded without
    /// statement timeouts, and a connection is held only while the lock is.
    /// </summary>
    public async ValueTask<IAsyncDisposable?> AcquireVariantAsync(string variantKey, CancellationToken cancellationToken)
    {
        var key = BlobLockKeys.Of(variantKey);
        var deadline = DateTime.UtcNow + IBlobLocks.VariantLockWait;
        var delay = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            try
            {
                await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock($1, $2)", connection);
                command.Parameters.Add(new NpgsqlParameter { Value = VariantNamespace });
                command.Parameters.Add(new NpgsqlParameter { Value = key });
                if (await command.ExecuteScalarAsync(cancellationToken) is true)
                {
                    return new Release(connection, VariantNamespace, key);
                }
            }
            catch
            {
                await connection.DisposeAsync();
                throw;
            }

            await connection.DisposeAsync();
            if (DateTime.UtcNow + delay > deadline)
            {
                return null;
            }

            await Task.Delay(delay, cancellationToken);
            delay = TimeSpan.FromMilliseconds(Math.Min(200, delay.TotalMilliseconds * 2));
        }
    }

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
