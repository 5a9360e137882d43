using System.Diagnostics;
using System.Globalization;
using Imagebin.Data;
using Imagebin.Features.Media;
using Imagebin.Jobs;
using Imagebin.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using NetVips;

namespace Imagebin.Features.Moderation;

/// <summary>
/// The moderation pipeline (DESIGN.md §8), one job per upload: malware (clamd), the exact and perceptual block lists,
/// a full decode, and the NSFW classifier. Each stage records what decided on the item's evidence; the outcome sets
/// <c>scan_state</c> and <c>classification</c>. The job is idempotent: a rerun recomputes everything from the bytes, and
/// only an item still <c>pending</c>/<c>scanning</c> takes its result. A stage that cannot run (clamd down) throws, so
/// the queue retries; when the retries run out the item ends <c>failed</c>, held for a moderator, never passed.
/// </summary>
public sealed class ScanJob(
    IDbContextFactory<ImagebinDb> contexts,
    IBlobStore store,
    MediaCatalog catalog,
    HashLists hashLists,
    NsfwClassifier classifier,
    JobQueue jobs,
    IOptions<ModerationOptions> options,
    TimeProvider time,
    ILogger<ScanJob> logger) : IJobHandler
{
    public const string JobKind = "scan";

    private static readonly string LibvipsVersion =
        $"libvips {NetVips.NetVips.Version(0)}.{NetVips.NetVips.Version(1)}.{NetVips.NetVips.Version(2)}";

    private (string Endpoint, string Version, long At)? _clamVersion;

    public string Kind => JobKind;

    public static Task EnqueueAsync(JobQueue jobs, ImagebinDb db, string itemId, CancellationToken cancellationToken) =>
        jobs.EnqueueAsync(db, JobKind, itemId, $"{JobKind}:{itemId}", cancellationToken);

    /// <summary>What the stages concluded.</summary>
    private sealed record Verdict(string State, string Classification, string? Reason, PdqResult? Pdq)
    {
        /// <summary>The ThumbHash of the picture, once it decoded (null when the scan stopped before, or it could not be made).</summary>
        public string? Placeholder { get; init; }
    }

    public async Task HandleAsync(Job job, CancellationToken cancellationToken)
    {
        var itemId = job.Payload;
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var item = await db.Items.AsNoTracking().Where(i => i.Id == itemId)
            .Select(i => new { i.BlobSha256, i.Frames, i.ScanState, i.ScanEvidence }).FirstOrDefaultAsync(cancellationToken);
        // Deleted meanwhile, or decided by an earlier run; an item hidden by reports before its scan still gets one.
        if (item is null || !(item.ScanState is ScanState.Pending or ScanState.Scanning || (item.ScanState == ScanState.Held && item.ScanEvidence is null)))
        {
            return;
        }

        await db.Items.Where(i => i.Id == itemId && i.ScanState == ScanState.Pending)
            .ExecuteUpdateAsync(set => set.SetProperty(i => i.ScanState, ScanState.Scanning), cancellationToken);
        var evidence = new ScanEvidence();
        var timings = new StageTimings();
        Verdict verdict;
        await using (var file = await LocalBlobFile.OpenAsync(store, BlobKeys.ForSha256(item.BlobSha256), cancellationToken))
        {
            verdict = await ScanAsync(itemId, file.Path, item.BlobSha256, item.Frames, evidence, timings, cancellationToken);
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var held = verdict.State == ScanState.Held;
        var json = evidence.ToJson();
        var pdqHash = verdict.Pdq?.Hash.ToHex();
        var pdqQuality = verdict.Pdq?.Quality;
        var placeholder = verdict.Placeholder;
        var updated = await db.Items.Where(i => i.Id == itemId && (i.ScanState == ScanState.Pending || i.ScanState == ScanState.Scanning))
            .ExecuteUpdateAsync(set => set
                .SetProperty(i => i.ScanState, verdict.State)
                .SetProperty(i => i.Classification, verdict.Classification)
                .SetProperty(i => i.ScanReason, verdict.Reason)
                .SetProperty(i => i.ScanEvidence, json)
                .SetProperty(i => i.PdqHash, pdqHash)
                .SetProperty(i => i.PdqQuality, pdqQuality)
                .SetProperty(i => i.Placeholder, placeholder)
                .SetProperty(i => i.ReviewRank, i => held ? ReviewRanks.Held : i.ReviewRank)
                .SetProperty(i => i.ReviewSince, i => held ? i.ReviewSince ?? now : i.ReviewSince),
                cancellationToken);
        if (updated == 0)
        {
            // Hidden by reports while it was scanned: it stays held for the moderator, who now sees the evidence; a
            // block still wins.
            var blocks = verdict.State is ScanState.Blocked or ScanState.Rejected;
            await db.Items.Where(i => i.Id == itemId && i.ScanState == ScanState.Held && i.ScanEvidence == null)
                .ExecuteUpdateAsync(set => set
                    .SetProperty(i => i.ScanState, i => blocks ? verdict.State : i.ScanState)
                    .SetProperty(i => i.ScanReason, i => blocks ? verdict.Reason : i.ScanReason)
                    .SetProperty(i => i.Classification, verdict.Classification)
                    .SetProperty(i => i.ScanEvidence, json)
                    .SetProperty(i => i.PdqHash, pdqHash)
                    .SetProperty(i => i.PdqQuality, pdqQuality)
                    .SetProperty(i => i.Placeholder, placeholder),
                    cancellationToken);
        }

        // The caption comes once the image may be public; withdrawn images are not captioned.
        if (verdict.State == ScanState.Passed && updated > 0)
        {
            await QueueCaptionAsync(db, itemId, cancellationToken);
        }
        else if (ScanStates.IsWithdrawn(verdict.State))
        {
            await Captions.CaptionJob.SkipAsync(db, itemId, cancellationToken);
        }

        await catalog.ChangedAsync(itemId, cancellationToken);
        // bench/pipeline.sh reads these (Logging:LogLevel:Imagebin.Features.Moderation.ScanJob=Debug).
        logger.LogDebug("Scanned {ItemId} in {Total:0.0} ms: {Stages}", itemId, timings.TotalMilliseconds, timings);
        if (verdict.State != ScanState.Passed)
        {
            logger.LogInformation("Item {ItemId} {State} ({Classification}): {Reason}", itemId, verdict.State, verdict.Classification, verdict.Reason);
        }
    }

    public async Task OnExhaustedAsync(Job job, string error, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        await db.Items.Where(i => i.Id == job.Payload && (i.ScanState == ScanState.Pending || i.ScanState == ScanState.Scanning))
            .ExecuteUpdateAsync(
                set => set.SetProperty(i => i.ScanState, ScanState.Failed)
                    .SetProperty(i => i.ScanReason, $"The scan failed: {error}")
                    .SetProperty(i => i.ReviewRank, ReviewRanks.Held)
                    .SetProperty(i => i.ReviewSince, i => i.ReviewSince ?? now),
                cancellationToken);
        await store.DeleteAsync(BlobKeys.Incoming(job.Payload), cancellationToken);
        await catalog.ChangedAsync(job.Payload, cancellationToken);
    }

    private async Task<Verdict> ScanAsync(
        string itemId, string path, string sha256, int frames, ScanEvidence evidence, StageTimings timings, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var holds = new List<string>();

        // 1. Malware.
        if (settings.ClamAv.Endpoint is { Length: > 0 } endpoint)
        {
            var client = new ClamAvClient(endpoint, ioTimeout: TimeSpan.FromSeconds(settings.ClamAv.TimeoutSeconds));
            var version = await ClamVersionAsync(client, cancellationToken);
            // The upload as it arrived when it is still there, else the stored copy.
            var incoming = BlobKeys.Incoming(itemId);
            var original = await store.ExistsAsync(incoming, cancellationToken);
            var scanned = original ? null : "the stored copy (the upload as sent was gone)";
            ClamAvVerdict scan;
            await using (var file = original ? await store.OpenReadAsync(incoming, 0, null, cancellationToken) : File.OpenRead(path))
            {
                scan = await client.ScanAsync(file, cancellationToken);
            }

            if (scan.Outcome != ClamAvOutcome.Error && original)
            {
                await store.DeleteAsync(incoming, cancellationToken);
            }

            switch (scan.Outcome)
            {
                case ClamAvOutcome.Clean:
                    evidence.Stages.Add(new(ScanStages.Malware, "clamav", version, "clean", scanned));
                    break;
                case ClamAvOutcome.Infected:
                    evidence.Stages.Add(new(ScanStages.Malware, "clamav", version, "found", scan.Signature));
                    return new Verdict(ScanState.Blocked, Classification.Prohibited, $"Malware found: {scan.Signature}", null);
                case ClamAvOutcome.TooLarge:
                    evidence.Stages.Add(new(ScanStages.Malware, "clamav", version, "too_large", scan.Message));
                    holds.Add("The malware scanner refused a file this large; a moderator must look at it.");
                    break;
                default:
                    // Retried by the queue; if it keeps failing the item ends failed (held), never passed.
                    throw new InvalidOperationException($"clamd could not scan the file: {scan.Message}");
            }
        }
        else
        {
            evidence.Stages.Add(new(ScanStages.Malware, "none", null, "skipped", "No malware scanner is configured (Moderation:ClamAv:Endpoint)."));
        }

        timings.Mark(ScanStages.Malware);

        // 2. The exact list.
        var lists = await hashLists.SnapshotAsync(cancellationToken);
        var listVersion = lists.Version;
        if (lists.MatchSha256(sha256) is { } exact)
        {
            evidence.Stages.Add(new(ScanStages.HashList, "sha256", listVersion, "match", $"#{exact.Entry.Id} ({exact.Entry.Action}): {exact.Entry.Reason}"));
            if (exact.Entry.Action == HashActions.Block)
            {
                return new Verdict(ScanState.Blocked, Classification.Prohibited, $"Matches a blocked file: {exact.Entry.Reason}", null);
            }

            holds.Add($"Matches a listed file: {exact.Entry.Reason}");
        }
        else
        {
            evidence.Stages.Add(new(ScanStages.HashList, "sha256", listVersion, "no_match", null));
        }

        timings.Mark("sha256");

        // 3. Every pixel of every frame decodes. A still image of moderate size is decoded once, into memory, and the
        // later stages read those pixels; larger ones and animations stream through each stage instead.
        var animated = frames > 1;
        var (failure, pixels) = Decode(path, animated);
        using var decoded = pixels;
        if (failure is not null)
        {
            evidence.Stages.Add(new(ScanStages.Decode, "libvips", LibvipsVersion, "undecodable", failure));
            return new Verdict(ScanState.Rejected, Classification.Unknown, $"Not a decodable image: {failure}", null);
        }

        evidence.Stages.Add(new(ScanStages.Decode, "libvips", LibvipsVersion, "decoded", null));
        timings.Mark(ScanStages.Decode);

        // The placeholder, from the pixels just decoded when they are in memory, else by shrink-on-load from the file.
        var placeholder = Placeholder(itemId, path, decoded);
        timings.Mark("placeholder");

        // 4. The perceptual list, in all eight orientations.
        var pdq = decoded is null ? Pdq.ComputeFile(path) : Pdq.ComputeReduced(decoded);
        var pdqScores = new Dictionary<string, double> { ["quality"] = pdq.Quality };
        if (pdq.Quality < settings.PdqMinQuality)
        {
            evidence.Stages.Add(new(ScanStages.HashList, "pdq", listVersion, "low_quality", $"PDQ quality {pdq.Quality} is below {settings.PdqMinQuality}; not matched.", pdqScores));
        }
        else if (lists.MatchPdq(pdq.Dihedral, pdq.Quality) is { } similar)
        {
            pdqScores["distance"] = similar.Distance ?? 0;
            evidence.Stages.Add(new(ScanStages.HashList, "pdq", listVersion, "match", $"#{similar.Entry.Id} ({similar.Entry.Action}): {similar.Entry.Reason}", pdqScores));
            if (similar.Entry.Action == HashActions.Block)
            {
                return new Verdict(ScanState.Blocked, Classification.Prohibited, $"Matches a blocked image: {similar.Entry.Reason}", pdq) { Placeholder = placeholder };
            }

            holds.Add($"Resembles a listed image: {similar.Entry.Reason}");
        }
        else
        {
            evidence.Stages.Add(new(ScanStages.HashList, "pdq", listVersion, "no_match", null, pdqScores));
        }

        timings.Mark("pdq");

        // 5. The classifier.
        var classification = Classification.Unknown;
        if (settings.Classifier.Enabled)
        {
            var results = decoded is null ? classifier.ClassifyFrames(path, animated ? settings.Classifier.MaxFrames : 1) : [classifier.Classify(decoded)];
            var worst = results.MaxBy(f => (f.Porn + f.Hentai, f.Sexy))!;
            var (label, uncertain) = Classify(worst, settings.Classifier);
            classification = label;
            var scores = new Dictionary<string, double>
            {
                ["drawing"] = Math.Round(worst.Drawing, 4),
                ["hentai"] = Math.Round(worst.Hentai, 4),
                ["neutral"] = Math.Round(worst.Neutral, 4),
                ["porn"] = Math.Round(worst.Porn, 4),
                ["sexy"] = Math.Round(worst.Sexy, 4),
                ["frames"] = results.Count,
            };
            evidence.Stages.Add(new(ScanStages.Classifier, "nsfw-mobilenetv2", classifier.ModelVersion, uncertain ? "uncertain" : label, null, scores));
            if (uncertain)
            {
                holds.Add(string.Create(CultureInfo.InvariantCulture,
                    $"The classifier is unsure (explicit {worst.Porn + worst.Hentai:0.00}); a moderator will look at it."));
            }
        }
        else
        {
            evidence.Stages.Add(new(ScanStages.Classifier, "none", null, "skipped", "The classifier is off (Moderation:Classifier:Enabled)."));
        }

        timings.Mark(ScanStages.Classifier);
        return holds.Count > 0
            ? new Verdict(ScanState.Held, classification, string.Join(' ', holds), pdq) { Placeholder = placeholder }
            : new Verdict(ScanState.Passed, classification, null, pdq) { Placeholder = placeholder };
    }

    /// <summary>
    /// The item's ThumbHash. It only decorates the page while the image loads, so an image that decoded but cannot be
    /// thumbnailed is logged and goes without one rather than failing its scan.
    /// </summary>
    private string? Placeholder(string itemId, string path, Image? decoded)
    {
        try
        {
            return decoded is null ? ThumbHash.FromFile(path) : ThumbHash.FromImage(decoded);
        }
        catch (VipsException exception)
        {
            logger.LogWarning(exception, "No placeholder for {ItemId}", itemId);
            return null;
        }
    }

    private async Task QueueCaptionAsync(ImagebinDb db, string itemId, CancellationToken cancellationToken)
    {
        if (await db.Items.AnyAsync(i => i.Id == itemId && !i.AiOptOut && i.AiCaptionState == AiCaptionState.Pending, cancellationToken))
        {
            await Captions.CaptionJob.EnqueueAsync(jobs, db, itemId, cancellationToken);
            jobs.Wake();
        }
    }

    /// <summary>nsfwjs's five scores to a classification; the band below the explicit threshold is uncertain.</summary>
    public static (string Classification, bool Uncertain) Classify(NsfwScores scores, ClassifierOptions thresholds)
    {
        var explicitScore = scores.Porn + scores.Hentai;
        if (explicitScore >= thresholds.ExplicitThreshold)
        {
            return (Classification.Explicit, false);
        }

        if (explicitScore >= thresholds.HoldThreshold)
        {
            // Labelled as the worse of the two while it waits; a moderator's approval can say otherwise.
            return (Classification.Explicit, true);
        }

        return explicitScore + scores.Sexy >= thresholds.SensitiveThreshold ? (Classification.Sensitive, false) : (Classification.Safe, false);
    }

    private async Task<string> ClamVersionAsync(ClamAvClient client, CancellationToken cancellationToken)
    {
        var now = Environment.TickCount64;
        if (_clamVersion is { } cached && cached.Endpoint == client.Endpoint && now - cached.At < 60_000)
        {
            return cached.Version;
        }

        var version = await client.VersionAsync(cancellationToken);
        _clamVersion = (client.Endpoint, version, now);
        return version;
    }

    /// <summary>Still images whose decoded pixels fit in this many bytes (16 MP of 8-bit RGB) are decoded once, into memory.</summary>
    private const long InMemoryBytes = 48_000_000;

    /// <summary>
    /// Decodes every pixel. Returns the decoder's complaint when that fails; otherwise, for a still image of at most
    /// <see cref="InMemoryBytes"/> decoded, the pixels for the later stages (the caller disposes them).
    /// </summary>
    private static (string? Failure, Image? Pixels) Decode(string path, bool animated)
    {
        try
        {
            using var image = Image.NewFromFile(path, access: Enums.Access.Sequential, failOn: Enums.FailOn.Error,
                kwargs: animated ? new VOption { { "n", -1 } } : null);
            var sampleBytes = image.Format switch
            {
                Enums.BandFormat.Uchar or Enums.BandFormat.Char => 1,
                Enums.BandFormat.Ushort or Enums.BandFormat.Short => 2,
                Enums.BandFormat.Double or Enums.BandFormat.Complex => 8,
                Enums.BandFormat.Dpcomplex => 16,
                _ => 4,
            };
            if (!animated && (long)image.Width * image.Height * image.Bands * sampleBytes <= InMemoryBytes)
            {
                return (null, image.CopyMemory());
            }

            // Averaging visits every pixel, so the whole file is decoded, streaming, in bounded memory.
            image.Avg();
            return (null, null);
        }
        catch (VipsException exception)
        {
            return (exception.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "decode failed", null);
        }
    }

    /// <summary>Wall time per stage of one scan, for the debug log.</summary>
    private sealed class StageTimings
    {
        private readonly long _start = Stopwatch.GetTimestamp();
        private readonly List<(string Stage, double Milliseconds)> _stages = [];
        private long _last = Stopwatch.GetTimestamp();

        public double TotalMilliseconds => Stopwatch.GetElapsedTime(_start).TotalMilliseconds;

        public void Mark(string stage)
        {
            var now = Stopwatch.GetTimestamp();
            _stages.Add((stage, Stopwatch.GetElapsedTime(_last, now).TotalMilliseconds));
            _last = now;
        }

        public override string ToString() =>
            string.Join(' ', _stages.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Stage}={s.Milliseconds:0.0}")));
    }
}
