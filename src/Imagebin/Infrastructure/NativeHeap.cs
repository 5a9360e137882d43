using System.Runtime.InteropServices;

namespace Imagebin.Infrastructure;

/// <summary>
/// glibc's allocator, tuned for what libvips and ONNX Runtime do here: allocate pixel buffers of a few MB, then free
/// them. By default glibc raises its mmap threshold to the largest block freed so far (up to 32 MB), after which such
/// buffers come from heap arenas that are never given back: measured, one scan left ~25 MB more resident for good.
/// A fixed threshold keeps large buffers in their own mappings, returned to the kernel on free.
/// <c>MALLOC_MMAP_THRESHOLD_</c> in the environment still wins.
/// </summary>
public static partial class NativeHeap
{
    private const int MmapThreshold = -3; // M_MMAP_THRESHOLD in <malloc.h>

    public static void Tune()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is not null)
        {
            return;
        }

        try
        {
            mallopt(MmapThreshold, 128 * 1024);
        }
        catch (Exception exception) when (exception is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (musl has no mallopt): nothing to tune.
        }
    }

    /// <summary>Gives free pages of glibc's heaps back to the kernel, e.g. after a large native component let go of its memory.</summary>
    public static void Trim()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        try
        {
            malloc_trim(0);
        }
        catch (Exception exception) when (exception is DllNotFoundException or EntryPointNotFoundException)
        {
        }
    }

    [DllImport("libc", ExactSpelling = true)]
    private static extern int mallopt(int param, int value);

    [DllImport("libc", ExactSpelling = true)]
    private static extern int malloc_trim(nuint pad);
}
