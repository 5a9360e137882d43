using System.Buffers;
using System.Security.Cryptography;
using Microsoft.ML.OnnxRuntime;
using NetVips;

namespace Imagebin.Features.Moderation;

/// <summary>nsfwjs's five probabilities (they sum to 1).</summary>
public sealed record NsfwScores(float Drawing, float Hentai, float Neutral, float Porn, float Sexy);

/// <summary>
/// The NSFW classifier: nsfwjs 4.4.0's MobileNetV2 converted to ONNX by tools/nsfw-model (docs/moderation-model.md), run
/// in-process on ONNX Runtime. The model file is checked against <see cref="ModelSha256"/> when it is first used.
/// One instance serves every thread: each call runs on its caller's thread (one intra-op thread per call).
/// </summary>
public sealed class NsfwClassifier : IDisposable
{
    /// <summary>sha256 of Models/nsfw-mobilenetv2.onnx, as tools/nsfw-model/build.sh prints it; check.sh compares the three.</summary>
    public const string ModelSha256 = "133772dab86c315dcda31ce7e50f0872015c36b7ed7d0a332127567922f27b9a";

    public const int InputSize = 224;

    /// <summary>Values in one NHWC input tensor: 224 × 224 × RGB.</summary>
    public const int TensorLength = InputSize * InputSize * 3;

    private static readonly long[] InputShape = [1, InputSize, InputSize, 3];
    private static readonly string[] InputNames = ["input"];
    private static readonly string[] OutputNames = ["probabilities"];

    private readonly string modelPath;
    private readonly Lock _gate = new();
    private InferenceSession? _session;
    private int _users;
    private long _lastUsed;
    private Timer? _idleTimer;

    public NsfwClassifier()
        : this(Path.Combine(AppContext.BaseDirectory, "Features", "Moderation", "Models", "nsfw-mobilenetv2.onnx"))
    {
    }

    internal NsfwClassifier(string modelPath)
    {
        this.modelPath = modelPath;
    }

    /// <summary>
    /// Unload the model after this long without a classification (<c>Moderation:Classifier:UnloadAfterIdleSeconds</c>);
    /// the next one loads it again. Infinite keeps it loaded.
    /// </summary>
    public TimeSpan UnloadAfterIdle { get; init; } = Timeout.InfiniteTimeSpan;

    /// <summary>Whether the model is in memory now.</summary>
    public bool IsLoaded
    {
        get
        {
            lock (_gate)
            {
                return _session is not null;
            }
        }
    }

    /// <summary>Recorded with every decision, so that a score can be traced to the model that gave it.</summary>
    public string ModelVersion { get; } = $"nsfwjs-4.4.0-mobilenet_v2@sha256:{ModelSha256[..12]}";

    /// <summary>
    /// Classifies one RGB tensor, 224 × 224 × 3, row-major (NHWC without the batch), values in [0, 1]: the input of
    /// nsfwjs's Keras model after its preprocessing.
    /// </summary>
    public NsfwScores ClassifyTensor(ReadOnlySpan<float> nhwc224)
    {
        if (nhwc224.Length != TensorLength)
        {
            throw new ArgumentException($"Expected {TensorLength} values (224 × 224 × 3), got {nhwc224.Length}.", nameof(nhwc224));
        }

        var buffer = ArrayPool<float>.Shared.Rent(TensorLength);
        try
        {
            nhwc224.CopyTo(buffer);
            return Run(buffer);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Classifies an image the way nsfwjs classifies the pixels it is given: RGB / 255, then the whole image resized to
    /// 224 × 224 (aspect ratio not kept) by bilinear interpolation with aligned corners. Any band format or colour space
    /// is first converted to 8-bit sRGB; alpha is flattened onto black; the EXIF orientation is applied. Only the first
    /// frame of an animated image is used, even when it was opened with all its pages (see <see cref="ClassifyFrames"/>).
    /// </summary>
    public NsfwScores Classify(Image image)
    {
        var buffer = ArrayPool<float>.Shared.Rent(TensorLength);
        try
        {
            WriteTensor(image, buffer);
            return Run(buffer);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Classifies up to <paramref name="maxFrames"/> frames of an image file, evenly spread from the first to the last
    /// (all of them when there are fewer); a still image gives one result.
    /// </summary>
    public IReadOnlyList<NsfwScores> ClassifyFrames(string path, int maxFrames = 4)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrames, 1);
        int pages;
        using (var header = Image.NewFromFile(path, failOn: Enums.FailOn.Error))
        {
            pages = header.Contains("n-pages") ? Math.Max(1, (int)header.Get("n-pages")) : 1;
        }

        var results = new List<NsfwScores>();
        foreach (var page in SampleFrames(pages, maxFrames))
        {
            // Sequential: the resize reads rows top to bottom, so the frame streams through in bounded memory.
            using var frame = Image.NewFromFile(path, access: Enums.Access.Sequential, failOn: Enums.FailOn.Error,
                kwargs: pages > 1 ? new VOption { { "page", page }, { "n", 1 } } : null);
            results.Add(Classify(frame));
        }

        return results;
    }

    /// <summary>Indexes of up to <paramref name="maxFrames"/> frames out of <paramref name="pages"/>, first and last included.</summary>
    internal static IEnumerable<int> SampleFrames(int pages, int maxFrames)
    {
        if (pages <= maxFrames)
        {
            return Enumerable.Range(0, pages);
        }

        if (maxFrames == 1)
        {
            return [0];
        }

        return Enumerable.Range(0, maxFrames).Select(i => (int)Math.Round(i * (pages - 1) / (double)(maxFrames - 1), MidpointRounding.AwayFromZero));
    }

    /// <summary>
    /// Writes the 224 × 224 × 3 tensor of <paramref name="image"/> into <paramref name="tensor"/>. The resize is
    /// tf.image.resizeBilinear(alignCorners = true) as tfjs's WASM backend computes it (XNNPACK, float32): output pixel x
    /// samples input x · (width − 1) / 223 between its two neighbours; rows likewise. That reads 2 rows per output row, so
    /// only up to 448 input rows are fetched, in increasing order (a sequentially opened image works).
    /// </summary>
    internal static void WriteTensor(Image image, Span<float> tensor)
    {
        using var rgb = ToSrgb8(image);
        var width = rgb.Width;
        // An animated image opened with all its pages is a strip of frames: the first one is the image.
        var pageHeight = image.Contains("page-height") ? (int)image.Get("page-height") : 0;
        var height = pageHeight > 0 && pageHeight < rgb.Height ? pageHeight : rgb.Height;
        var orientation = image.Contains("orientation") ? (int)image.Get("orientation") : 1;

        Span<int> left = stackalloc int[InputSize];
        Span<int> right = stackalloc int[InputSize];
        Span<float> alpha = stackalloc float[InputSize];
        Sampling(width, left, right, alpha);
        Span<int> top = stackalloc int[InputSize];
        Span<int> bottom = stackalloc int[InputSize];
        Span<float> beta = stackalloc float[InputSize];
        Sampling(height, top, bottom, beta);

        var oriented = orientation is > 1 and <= 8;
        var scratch = oriented ? ArrayPool<float>.Shared.Rent(TensorLength) : null;
        try
        {
            var resized = oriented ? scratch.AsSpan(0, TensorLength) : tensor[..TensorLength];
            Span<float> upper = stackalloc float[InputSize * 3];
            Span<float> lower = stackalloc float[InputSize * 3];
            using var region = Region.New(rgb);
            var cachedRow = -1;
            byte[] cached = [];
            for (var y = 0; y < InputSize; y++)
            {
                if (top[y] != cachedRow)
                {
                    cached = region.Fetch(0, top[y], width, 1);
                    cachedRow = top[y];
                }

                Horizontal(cached, left, right, alpha, upper);
                if (bottom[y] != cachedRow)
                {
                    cached = region.Fetch(0, bottom[y], width, 1);
                    cachedRow = bottom[y];
                }

                Horizontal(cached, left, right, alpha, lower);
                var row = resized.Slice(y * InputSize * 3, InputSize * 3);
                for (var i = 0; i < row.Length; i++)
                {
                    row[i] = upper[i] + (lower[i] - upper[i]) * beta[y];
                }
            }

            if (oriented)
            {
                // Resizing to a square commutes with the EXIF rotations and flips, so they apply to the 224 × 224 result.
                Orient(resized, tensor, orientation);
            }
        }
        finally
        {
            if (scratch is not null)
            {
                ArrayPool<float>.Shared.Return(scratch);
            }
        }
    }

    /// <summary>Turns a stored 224 × 224 × 3 tensor upright by its EXIF orientation (2–8).</summary>
    private static void Orient(ReadOnlySpan<float> stored, Span<float> upright, int orientation)
    {
        const int last = InputSize - 1;
        for (var y = 0; y < InputSize; y++)
        {
            for (var x = 0; x < InputSize; x++)
            {
                var (sx, sy) = orientation switch
                {
                    2 => (last - x, y),
                    3 => (last - x, last - y),
                    4 => (x, last - y),
                    5 => (y, x),
                    6 => (y, last - x),
                    7 => (last - y, last - x),
                    _ => (last - y, x),
                };
                stored.Slice((sy * InputSize + sx) * 3, 3).CopyTo(upright.Slice((y * InputSize + x) * 3, 3));
            }
        }
    }

    /// <summary>XNNPACK's align-corners indirection: scale = (in − 1) / (out − 1) in float32, floor, clamp.</summary>
    private static void Sampling(int inputLength, Span<int> low, Span<int> high, Span<float> fraction)
    {
        var scale = InputSize > 1 ? (float)(inputLength - 1) / (InputSize - 1) : 0f;
        for (var i = 0; i < InputSize; i++)
        {
            var source = i * scale;
            var index = Math.Min((int)source, inputLength - 1);
            low[i] = index;
            high[i] = Math.Min(index + 1, inputLength - 1);
            fraction[i] = source - index;
        }
    }

    private static void Horizontal(byte[] row, ReadOnlySpan<int> left, ReadOnlySpan<int> right, ReadOnlySpan<float> alpha, Span<float> output)
    {
        for (var x = 0; x < InputSize; x++)
        {
            for (var c = 0; c < 3; c++)
            {
                var l = row[left[x] * 3 + c] / 255f;
                var r = row[right[x] * 3 + c] / 255f;
                output[x * 3 + c] = l + (r - l) * alpha[x];
            }
        }
    }

    /// <summary>8-bit sRGB, three bands: what a browser hands nsfwjs (colour managed, alpha dropped).</summary>
    private static Image ToSrgb8(Image image)
    {
        var current = image.Colourspace(Enums.Interpretation.Srgb);
        if (current.HasAlpha())
        {
            // Transparent pixels become black, as in the canvas nsfwjs reads (premultiplied storage).
            var flattened = current.Flatten(background: [0, 0, 0]);
            current.Dispose();
            current = flattened;
        }

        if (current.Bands > 3)
        {
            var extracted = current.ExtractBand(0, 3);
            current.Dispose();
            current = extracted;
        }

        if (current.Format != Enums.BandFormat.Uchar)
        {
            var cast = current.Cast(Enums.BandFormat.Uchar);
            current.Dispose();
            current = cast;
        }

        return current;
    }

    private NsfwScores Run(float[] buffer)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.AsMemory(0, TensorLength), InputShape);
        using var runOptions = new RunOptions();
        var session = Acquire();
        try
        {
            using var outputs = session.Run(runOptions, InputNames, [input], OutputNames);
            var p = outputs[0].GetTensorDataAsSpan<float>();
            return new NsfwScores(p[0], p[1], p[2], p[3], p[4]);
        }
        finally
        {
            Release();
        }
    }

    /// <summary>The session, loaded (and checked) on first use or after an unload; counted as in use until <see cref="Release"/>.</summary>
    private InferenceSession Acquire()
    {
        lock (_gate)
        {
            if (_session is null)
            {
                _session = Load();
                if (UnloadAfterIdle > TimeSpan.Zero && UnloadAfterIdle != Timeout.InfiniteTimeSpan)
                {
                    var period = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, UnloadAfterIdle.Ticks / 2));
                    _idleTimer ??= new Timer(_ => UnloadIfIdle(), null, period, period);
                }
            }

            _users++;
            return _session;
        }
    }

    private void Release()
    {
        lock (_gate)
        {
            _users--;
            _lastUsed = Environment.TickCount64;
        }
    }

    /// <summary>
    /// Frees the model (weights and ONNX Runtime's buffers, about 45 MB resident) once nothing has been classified for
    /// <see cref="UnloadAfterIdle"/> and no classification is running. A node that only serves images does not keep it.
    /// </summary>
    internal void UnloadIfIdle()
    {
        lock (_gate)
        {
            if (_session is not null && _users == 0 && Environment.TickCount64 - _lastUsed >= UnloadAfterIdle.TotalMilliseconds)
            {
                _session.Dispose();
                _session = null;
                Infrastructure.NativeHeap.Trim();
            }
        }
    }

    private InferenceSession Load()
    {
        var bytes = File.ReadAllBytes(modelPath);
        var actual = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (actual != ModelSha256)
        {
            throw new InvalidDataException(
                $"The NSFW model {modelPath} has sha256 {actual}, expected {ModelSha256}. Rebuild it with tools/nsfw-model/check.sh or restore it from git.");
        }

        using var options = new Microsoft.ML.OnnxRuntime.SessionOptions
        {
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            // One small input at a time: the arena and memory patterns only keep tens of MB resident between scans.
            EnableCpuMemArena = false,
            EnableMemoryPattern = false,
        };
        return new InferenceSession(bytes, options);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _idleTimer?.Dispose();
            _session?.Dispose();
            _session = null;
        }
    }
}
