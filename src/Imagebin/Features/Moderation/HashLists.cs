using System.Globalization;
using System.Text;
using Imagebin.Data;
using Imagebin.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Moderation;

/// <summary>A listed hash an image matched, and how close a perceptual match was.</summary>
public sealed record HashMatch(HashListEntry Entry, int? Distance);

/// <summary>
/// The block lists: exact SHA-256 hashes of bytes and PDQ hashes of pixels, imported by admins as CSV and grown by every
/// removal. Matching runs against an in-memory copy of the list; a change anywhere is signalled to every node, and
/// every match first checks the list's size and newest id in the store, so a lost signal cannot leave a node matching
/// against an old list.
/// </summary>
public sealed class HashLists
{
    public const int MaxImportRows = 200_000;
    public static readonly string[] CsvColumns = ["kind", "hash", "action", "reason", "source", "created_at"];

    private readonly IDbContextFactory<ImagebinDb> _contexts;
    private readonly INodeSignals _signals;
    private readonly IOptions<ModerationOptions> _options;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _loading = new(1, 1);
    private volatile HashListSnapshot? _snapshot;

    public HashLists(IDbContextFactory<ImagebinDb> contexts, INodeSignals signals, IOptions<ModerationOptions> options, TimeProvider time)
    {
        _contexts = contexts;
        _signals = signals;
        _options = options;
        _time = time;
        signals.Subscribe(SignalChannels.HashLists, _ => _snapshot = null);
    }

    /// <summary>The list as it stands, to match one image against (fetched once per scan).</summary>
    public async Task<HashListSnapshot> SnapshotAsync(CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken);
        // One round trip says whether this node's copy is current: the list only grows by new ids or shrinks by deletes.
        var size = await db.HashListEntries.GroupBy(_ => 1)
            .Select(g => new { Count = g.LongCount(), MaxId = g.Max(e => e.Id) })
            .SingleOrDefaultAsync(cancellationToken);
        var (count, maxId) = size is null ? (0L, 0L) : (size.Count, size.MaxId);
        if (_snapshot is { } current && current.Count == count && current.MaxId == maxId)
        {
            return current;
        }

        await _loading.WaitAsync(cancellationToken);
        try
        {
            if (_snapshot is { } loaded && loaded.Count == count && loaded.MaxId == maxId)
            {
                return loaded;
            }

            var entries = await db.HashListEntries.AsNoTracking().ToListAsync(cancellationToken);
            var options = _options.Value;
            var snapshot = new HashListSnapshot(
                entries.Count,
                entries.Count == 0 ? 0 : entries.Max(e => e.Id),
                entries.Where(e => e.Kind == HashKinds.Sha256).ToDictionary(e => e.Hash),
                [.. entries.Where(e => e.Kind == HashKinds.Pdq).Select(e => (PdqHash.Parse(e.Hash), e))],
                options.PdqMatchDistance,
                options.PdqMinQuality);
            _snapshot = snapshot;
            return snapshot;
        }
        finally
        {
            _loading.Release();
        }
    }

    /// <summary>Adds (or strengthens to block) entries in the caller's transaction; call <see cref="ChangedAsync"/> after it commits.</summary>
    public async Task AddAsync(ImagebinDb db, IEnumerable<HashListEntry> entries, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var batch in entries.Chunk(500))
        {
            var keys = batch.Select(e => e.Kind + ":" + e.Hash).ToHashSet();
            var hashes = batch.Select(e => e.Hash).Distinct().ToList();
            var existing = await db.HashListEntries.Where(e => hashes.Contains(e.Hash)).ToListAsync(cancellationToken);
            var byKey = existing.Where(e => keys.Contains(e.Kind + ":" + e.Hash)).ToDictionary(e => e.Kind + ":" + e.Hash);
            foreach (var entry in batch)
            {
                if (byKey.TryGetValue(entry.Kind + ":" + entry.Hash, out var row))
                {
                    // A later entry replaces the reason; an action only ever hardens from hold to block.
                    row.Reason = entry.Reason;
                    row.Source = entry.Source;
                    row.Action = row.Action == HashActions.Block ? HashActions.Block : entry.Action;
                }
                else
                {
                    entry.CreatedAt = now;
                    db.HashListEntries.Add(entry);
                    byKey[entry.Kind + ":" + entry.Hash] = entry;
                }
            }
        }
    }

    public Task ChangedAsync(CancellationToken cancellationToken)
    {
        _snapshot = null;
        return _signals.PublishAsync(SignalChannels.HashLists, "", cancellationToken);
    }

    /// <summary>
    /// Reads a CSV with a header naming at least <c>kind,hash,action,reason</c> (in any order; other columns, such as an
    /// export's <c>source</c> and <c>created_at</c>, are ignored). Every row is checked before any is stored: one bad row
    /// refuses the whole file, naming its line.
    /// </summary>
    public static List<HashListEntry> ParseCsv(TextReader reader, string? actorId)
    {
        var rows = Csv.Read(reader).GetEnumerator();
        if (!rows.MoveNext())
        {
            throw new ApiException(ErrorCodes.InvalidRequest, "The CSV is empty; the first line must be a header: kind,hash,action,reason.");
        }

        var header = rows.Current.Fields.Select(h => h.Trim().ToLowerInvariant()).ToList();
        int Column(string name) => header.IndexOf(name) is >= 0 and var index
            ? index
            : throw new ApiException(ErrorCodes.InvalidRequest, $"The CSV header has no '{name}' column; it needs kind,hash,action,reason.");
        int kind = Column("kind"), hash = Column("hash"), action = Column("action"), reason = Column("reason");
        var entries = new List<HashListEntry>();
        var seen = new HashSet<string>();
        while (rows.MoveNext())
        {
            var (line, fields) = rows.Current;
            if (fields.Count == 1 && fields[0].Length == 0)
            {
                continue;
            }

            if (entries.Count >= MaxImportRows)
            {
                throw new ApiException(ErrorCodes.RequestTooLarge, $"An import holds at most {MaxImportRows:N0} rows; split the file.");
            }

            string Field(int index) => index < fields.Count ? fields[index].Trim() : "";
            ApiException Bad(string problem) => new(ErrorCodes.InvalidRequest, $"Line {line}: {problem}. Nothing was imported.");
            var entry = new HashListEntry
            {
                Kind = Field(kind).ToLowerInvariant(),
                Hash = Field(hash).ToLowerInvariant(),
                Action = Field(action).ToLowerInvariant(),
                Reason = Field(reason),
                Source = "import",
                CreatedBy = actorId,
            };
            if (entry.Kind is not (HashKinds.Sha256 or HashKinds.Pdq))
            {
                throw Bad($"kind must be sha256 or pdq, not '{Shorten(entry.Kind)}'");
            }

            if (entry.Hash.Length != 64 || !entry.Hash.All(char.IsAsciiHexDigit))
            {
                throw Bad("hash must be 64 hex digits");
            }

            if (entry.Action is not (HashActions.Block or HashActions.Hold))
            {
                throw Bad($"action must be block or hold, not '{Shorten(entry.Action)}'");
            }

            if (entry.Reason.Length is 0 or > 500)
            {
                throw Bad("reason must be 1 to 500 characters");
            }

            if (seen.Add(entry.Kind + ":" + entry.Hash))
            {
                entries.Add(entry);
            }
        }

        return entries;
    }

    public static async Task WriteCsvAsync(IAsyncEnumerable<HashListEntry> entries, TextWriter writer, CancellationToken cancellationToken)
    {
        await writer.WriteLineAsync(string.Join(',', CsvColumns));
        await foreach (var entry in entries.WithCancellation(cancellationToken))
        {
            await writer.WriteLineAsync(string.Join(',',
                entry.Kind, entry.Hash, entry.Action, Csv.Quote(entry.Reason), Csv.Quote(entry.Source),
                entry.CreatedAt.ToString(CultureInfo.InvariantCulture)));
        }
    }

    private static string Shorten(string value) => value.Length > 20 ? value[..20] + "…" : value;
}

/// <summary>Just enough RFC 4180: comma-separated, fields optionally in double quotes, <c>""</c> for a quote inside.</summary>
internal static class Csv
{
    public static IEnumerable<(int Line, List<string> Fields)> Read(TextReader reader)
    {
        var line = 0;
        string? text;
        while ((text = reader.ReadLine()) is not null)
        {
            line++;
            var start = line;
            var fields = new List<string>();
            var field = new StringBuilder();
            var quoted = false;
            var i = 0;
            while (true)
            {
                if (i == text.Length)
                {
                    if (!quoted)
                    {
                        break;
                    }

                    // A quoted field runs on over the line break.
                    text = reader.ReadLine() ?? throw new ApiException(ErrorCodes.InvalidRequest, $"Line {start}: a quoted field is never closed.");
                    line++;
                    field.Append('\n');
                    i = 0;
                    continue;
                }

                var c = text[i++];
                if (quoted)
                {
                    if (c == '"' && i < text.Length && text[i] == '"')
                    {
                        field.Append('"');
                        i++;
                    }
                    else if (c == '"')
                    {
                        quoted = false;
                    }
                    else
                    {
                        field.Append(c);
                    }
                }
                else if (c == '"' && field.Length == 0)
                {
                    quoted = true;
                }
                else if (c == ',')
                {
                    fields.Add(field.ToString());
                    field.Clear();
                }
                else
                {
                    field.Append(c);
                }
            }

            fields.Add(field.ToString());
            yield return (start, fields);
        }
    }

    public static string Quote(string value) =>
        value.IndexOfAny([',', '"', '\n', '\r']) >= 0 || value.Trim() != value ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;
}

/// <summary>One node's copy of the block lists at one moment.</summary>
public sealed class HashListSnapshot(
    long count, long maxId, Dictionary<string, HashListEntry> sha256, (PdqHash Hash, HashListEntry Entry)[] pdq, int matchDistance, int minQuality)
{
    public long Count { get; } = count;

    public long MaxId { get; } = maxId;

    /// <summary>E.g. "12 entries, newest #40", for the scan's evidence.</summary>
    public string Version => $"{Count} entries, newest #{MaxId}";

    public HashMatch? MatchSha256(string hash) => sha256.TryGetValue(hash, out var entry) ? new HashMatch(entry, null) : null;

    /// <summary>
    /// The closest listed PDQ hash to any of the image's eight orientations (so rotated and mirrored copies match), a block
    /// before a hold; null when nothing is within the match distance or the image's hash is too low in quality to trust.
    /// </summary>
    public HashMatch? MatchPdq(IReadOnlyList<PdqHash> orientations, int quality)
    {
        if (quality < minQuality)
        {
            return null;
        }

        HashMatch? best = null;
        foreach (var (listed, entry) in pdq)
        {
            foreach (var hash in orientations)
            {
                var distance = hash.DistanceTo(listed);
                if (distance <= matchDistance && (best is null || Better(entry, distance, best)))
                {
                    best = new HashMatch(entry, distance);
                }
            }
        }

        return best;

        static bool Better(HashListEntry entry, int distance, HashMatch current) =>
            (entry.Action == HashActions.Block && current.Entry.Action != HashActions.Block)
            || (entry.Action == current.Entry.Action && distance < current.Distance);
    }
}
