using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Imagebin.Features.Moderation;
using Imagebin.Infrastructure;
using Imagebin.Tests.Support;

namespace Imagebin.Tests.Moderation;

/// <summary>
/// The clamd client against the real clamd of <c>tests/services.sh</c> (test signatures of <c>tests/clamav/</c>, on TCP and
/// on its unix socket), and against fake servers on loopback for the failures a real clamd will not stage on demand.
/// </summary>
public sealed class ClamAvClientTests
{
    /// <summary>The name clamd gives our <c>.ndb</c> signature: databases other than ClamAV's own get <c>.UNOFFICIAL</c>.</summary>
    private const string EicarSignature = "Imagebin.Test.EICAR.UNOFFICIAL";

    /// <summary>tests/services.sh starts clamd with <c>StreamMaxLength 30M</c>.</summary>
    private const long StreamMaxLength = 30L * 1024 * 1024;

    /// <summary>The EICAR anti-virus test file, in two halves so that this source file is no test file itself.</summary>
    private static readonly byte[] Eicar = Encoding.ASCII.GetBytes(@"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-" + "STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");

    public static TheoryData<bool> Transports => new() { false, true };

    [Theory, MemberData(nameof(Transports))]
    public async Task Scan_CleanJpeg_IsClean(bool unixSocket)
    {
        var client = new ClamAvClient(TestServices.RequireClamAv(unixSocket));

        var verdict = await client.ScanAsync(new MemoryStream(TestImages.Jpeg(256, 192)), CancellationToken.None);

        Assert.Equal(new ClamAvVerdict(ClamAvOutcome.Clean, null, "stream: OK"), verdict);
    }

    [Theory, MemberData(nameof(Transports))]
    public async Task Scan_EicarAlone_IsInfectedWithTheTestSignature(bool unixSocket)
    {
        var client = new ClamAvClient(TestServices.RequireClamAv(unixSocket));

        var verdict = await client.ScanAsync(new MemoryStream(Eicar), CancellationToken.None);

        Assert.Equal(new ClamAvVerdict(ClamAvOutcome.Infected, EicarSignature, $"stream: {EicarSignature} FOUND"), verdict);
    }

    [Theory, MemberData(nameof(Transports))]
    public async Task Scan_EicarAppendedToValidJpeg_IsInfected(bool unixSocket)
    {
        var client = new ClamAvClient(TestServices.RequireClamAv(unixSocket));
        byte[] jpeg = [.. TestImages.Jpeg(256, 192, seed: 3), .. Eicar];

        var verdict = await client.ScanAsync(new MemoryStream(jpeg), CancellationToken.None);

        Assert.Equal(ClamAvOutcome.Infected, verdict.Outcome);
        Assert.Equal(EicarSignature, verdict.Signature);
    }

    [Fact]
    public async Task Scan_EicarAcrossChunkBoundaries_IsInfected()
    {
        // Tiny chunks split the signature over many INSTREAM chunks: clamd must see one stream, not chunks.
        var client = new ClamAvClient(TestServices.RequireClamAv(), chunkSize: 7);
        byte[] jpeg = [.. TestImages.Jpeg(seed: 4), .. Eicar, .. TestImages.Jpeg(seed: 5)];

        var verdict = await client.ScanAsync(new MemoryStream(jpeg), CancellationToken.None);

        Assert.Equal(ClamAvOutcome.Infected, verdict.Outcome);
    }

    [Fact]
    public async Task Scan_AsLargeAsTheUploadLimit_IsScanned()
    {
        var client = new ClamAvClient(TestServices.RequireClamAv());
        var maxUpload = new LimitsOptions().MaxUploadBytes;
        Assert.True(maxUpload < StreamMaxLength, "clamd's StreamMaxLength in tests/services.sh must stay above the upload limit");

        var verdict = await client.ScanAsync(new PatternStream(maxUpload), CancellationToken.None);

        Assert.Equal(ClamAvOutcome.Clean, verdict.Outcome);
    }

    [Theory, MemberData(nameof(Transports))]
    public async Task Scan_LongerThanStreamMaxLength_IsTooLarge(bool unixSocket)
    {
        var client = new ClamAvClient(TestServices.RequireClamAv(unixSocket));

        var verdict = await client.ScanAsync(new PatternStream(StreamMaxLength + 10L * 1024 * 1024), CancellationToken.None);

        Assert.Equal(new ClamAvVerdict(ClamAvOutcome.TooLarge, null, "INSTREAM size limit exceeded. ERROR"), verdict);
    }

    [Theory, MemberData(nameof(Transports))]
    public async Task Version_NamesClamAvAndItsVersion(bool unixSocket)
    {
        var client = new ClamAvClient(TestServices.RequireClamAv(unixSocket));

        var version = await client.VersionAsync(CancellationToken.None);

        Assert.Matches(@"^ClamAV \d+\.\d+\.\d+", version);
    }

    [Fact]
    public async Task Ping_BareSocketPath_AnswersPong()
    {
        var path = TestServices.RequireClamAv(unixSocket: true)["unix://".Length..];
        var client = new ClamAvClient(path);

        Assert.True(await client.PingAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Scan_NothingListening_ThrowsUnavailableQuickly()
    {
        var client = new ClamAvClient($"tcp://127.0.0.1:{UnusedPort()}", connectTimeout: TimeSpan.FromSeconds(30));
        var clock = Stopwatch.StartNew();

        await Assert.ThrowsAsync<ClamAvUnavailableException>(() => client.ScanAsync(new MemoryStream(Eicar), CancellationToken.None));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"a refused connection took {clock.Elapsed}");
        Assert.False(await client.PingAsync(CancellationToken.None));
        await Assert.ThrowsAsync<ClamAvUnavailableException>(() => client.VersionAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Scan_MissingUnixSocket_ThrowsUnavailable()
    {
        var client = new ClamAvClient($"unix://{Path.Combine(Path.GetTempPath(), $"no-clamd-{Guid.NewGuid():N}.sock")}");

        await Assert.ThrowsAsync<ClamAvUnavailableException>(() => client.ScanAsync(new MemoryStream(Eicar), CancellationToken.None));
    }

    [Fact]
    public async Task Scan_ServerClosesMidStream_ThrowsUnavailable()
    {
        await using var server = FakeClamd.Start(async (stream, _) =>
        {
            var buffer = new byte[64 * 1024];
            await stream.ReadAtLeastAsync(buffer, buffer.Length);
        });
        var client = new ClamAvClient(server.Endpoint);

        await Assert.ThrowsAsync<ClamAvUnavailableException>(
            () => client.ScanAsync(new PatternStream(8L * 1024 * 1024), CancellationToken.None));
    }

    [Fact]
    public async Task Scan_ServerClosesWithoutReply_ThrowsUnavailable()
    {
        await using var server = FakeClamd.Start(ReadInstreamAsync);
        var client = new ClamAvClient(server.Endpoint);

        await Assert.ThrowsAsync<ClamAvUnavailableException>(() => client.ScanAsync(new MemoryStream(Eicar), CancellationToken.None));
    }

    [Fact]
    public async Task Scan_ServerNeverReplies_ThrowsUnavailableAfterTheIoTimeout()
    {
        await using var server = FakeClamd.Start(async (stream, stop) =>
        {
            await ReadInstreamAsync(stream, stop);
            await Task.Delay(Timeout.Infinite, stop);
        });
        var client = new ClamAvClient(server.Endpoint, ioTimeout: TimeSpan.FromMilliseconds(300));
        var clock = Stopwatch.StartNew();

        await Assert.ThrowsAsync<ClamAvUnavailableException>(() => client.ScanAsync(new MemoryStream(Eicar), CancellationToken.None));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the timeout took {clock.Elapsed}");
    }

    [Theory]
    [InlineData("stream: Can't allocate memory ERROR", ClamAvOutcome.Error, null)]
    [InlineData("UNKNOWN COMMAND", ClamAvOutcome.Error, null)]
    [InlineData("stream: Some.Signature-1 FOUND", ClamAvOutcome.Infected, "Some.Signature-1")]
    public async Task Scan_OtherReplies_AreParsed(string reply, ClamAvOutcome outcome, string? signature)
    {
        await using var server = FakeClamd.Start(async (stream, stop) =>
        {
            await ReadInstreamAsync(stream, stop);
            await stream.WriteAsync(Encoding.ASCII.GetBytes(reply + "\0"), stop);
        });
        var client = new ClamAvClient(server.Endpoint);

        var verdict = await client.ScanAsync(new MemoryStream(Eicar), CancellationToken.None);

        Assert.Equal(new ClamAvVerdict(outcome, signature, reply), verdict);
    }

    [Theory]
    [InlineData("")]
    [InlineData("127.0.0.1:3310")]
    [InlineData("tcp://127.0.0.1")]
    [InlineData("tcp://127.0.0.1:0")]
    [InlineData("tcp://127.0.0.1:70000")]
    [InlineData("tcp://:3310")]
    [InlineData("tcp://127.0.0.1:3310/path")]
    [InlineData("http://127.0.0.1:3310")]
    [InlineData("unix://")]
    [InlineData("unix://relative/clamd.sock")]
    [InlineData("relative/clamd.sock")]
    public void Constructor_MalformedEndpoint_ThrowsArgumentException(string endpoint)
    {
        Assert.Throws<ArgumentException>(() => new ClamAvClient(endpoint));
    }

    [Theory]
    [InlineData("tcp://127.0.0.1:3310")]
    [InlineData("tcp://localhost:3310")]
    [InlineData("TCP://[::1]:3310")]
    [InlineData("unix:///run/clamav/clamd.ctl")]
    [InlineData("/run/clamav/clamd.ctl")]
    public void Constructor_WellFormedEndpoint_IsAccepted(string endpoint)
    {
        Assert.Equal(endpoint, new ClamAvClient(endpoint).Endpoint);
    }

    private static int UnusedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>Reads one INSTREAM command through its zero-length terminator, as clamd does.</summary>
    private static async Task ReadInstreamAsync(NetworkStream stream, CancellationToken stop)
    {
        var command = new byte[10];
        await stream.ReadExactlyAsync(command, stop);
        Assert.Equal("zINSTREAM\0"u8.ToArray(), command);
        var header = new byte[4];
        var chunk = new byte[64 * 1024];
        while (true)
        {
            await stream.ReadExactlyAsync(header, stop);
            var length = BinaryPrimitives.ReadInt32BigEndian(header);
            if (length == 0)
            {
                return;
            }

            await stream.ReadExactlyAsync(chunk.AsMemory(0, length), stop);
        }
    }

    /// <summary>A one-connection server on a loopback port that plays clamd by the given script, then hangs up.</summary>
    private sealed class FakeClamd : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _serving;

        private FakeClamd(Func<NetworkStream, CancellationToken, Task> script)
        {
            _listener = new TcpListener(IPAddress.Loopback, 0);
            _listener.Start();
            Endpoint = $"tcp://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
            _serving = ServeAsync(script);
        }

        public string Endpoint { get; }

        public static FakeClamd Start(Func<NetworkStream, CancellationToken, Task> script) => new(script);

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            try
            {
                await _serving;
            }
            catch (Exception exception) when (exception is OperationCanceledException or SocketException or IOException)
            {
                // The script was cut short by the end of the test.
            }

            _stop.Dispose();
        }

        private async Task ServeAsync(Func<NetworkStream, CancellationToken, Task> script)
        {
            using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            await using var stream = client.GetStream();
            await script(stream, _stop.Token);
        }
    }

    /// <summary>A long stream made up as it is read, so a test of size limits holds no more than a read buffer.</summary>
    private sealed class PatternStream(long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var count = (int)Math.Min(buffer.Length, length - _position);
            for (var i = 0; i < count; i++)
            {
                buffer[i] = (byte)((_position + i) * 31 >> 3);
            }

            _position += count;
            return count;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
