namespace Imagebin.Infrastructure;

/// <summary>
/// How Kestrel schedules I/O (<c>Serving:*</c>). Read once at start-up, before the first socket exists.
/// </summary>
/// <remarks>
/// With <see cref="InlineIo"/> on, socket completions and application continuations run on the socket engine's own
/// thread instead of hopping to the thread pool. On the direct-image path (an in-memory lookup and positional reads
/// of page-cached files) that hop is most of the cost: bench/BENCHMARKS.md has the numbers with it on and off.
/// Code that does heavy work after an await must leave the I/O thread first (the upload path yields to the thread
/// pool before it touches libvips), or it stalls every connection on that thread.
/// </remarks>
public sealed class ServingOptions
{
    public const string Section = "Serving";

    /// <summary>
    /// Default: on for the embedded store (SQLite + files), off on PostgreSQL or S3, whose network clients can hold an
    /// I/O thread; with it on, a scale-out node stalled under the bench/scaleout.sh load.
    /// </summary>
    public bool? InlineIo { get; set; }

    /// <summary>
    /// Socket engine threads when <see cref="InlineIo"/> is on; default one per core. Measured on 2 cores with wrk
    /// beside the server: one thread used the least CPU per request but its p99 doubled; two gave the best rate.
    /// </summary>
    public int? SocketThreads { get; set; }
}
