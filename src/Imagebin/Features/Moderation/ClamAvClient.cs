using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Imagebin.Features.Moderation;

/// <summary>What clamd made of a stream.</summary>
public enum ClamAvOutcome
{
    /// <summary><c>stream: OK</c>.</summary>
    Clean,

    /// <summary><c>stream: NAME FOUND</c>; the verdict carries the signature name.</summary>
    Infected,

    /// <summary>
    /// Longer than clamd's <c>StreamMaxLength</c>: clamd did not scan it. Not a pass — the caller must treat it as
    /// "cannot scan" (failed or held), and retrying does not help.
    /// </summary>
    TooLarge,

    /// <summary>Any other <c>… ERROR</c> reply, or a reply clamd is not known to give.</summary>
    Error,
}

/// <param name="Outcome">The kind of answer.</param>
/// <param name="Signature">For <see cref="ClamAvOutcome.Infected"/>, the signature as clamd names it (e.g. <c>Eicar-Signature</c>,
/// or <c>X.UNOFFICIAL</c> for a database that is not ClamAV's own).</param>
/// <param name="Message">clamd's whole reply, for the scan record and logs.</param>
public sealed record ClamAvVerdict(ClamAvOutcome Outcome, string? Signature, string? Message);

/// <summary>
/// clamd could not be asked: refused, reset, timed out, or closed without a reply. Transient by nature, so the job queue
/// retries it; it never stands for a verdict.
/// </summary>
public sealed class ClamAvUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A client for ClamAV's clamd over its socket protocol (the NUL-terminated <c>z</c> commands), on TCP
/// (<c>tcp://host:port</c>) or a unix socket (<c>unix:///path</c>, or just the absolute path). Each call uses its own
/// connection, so one instance serves concurrent scans. A scan streams the content in chunks (<c>INSTREAM</c>) and never
/// holds the whole file.
/// </summary>
public sealed class ClamAvClient
{
    private const int MaxReplyBytes = 8 * 1024;
    private const string SizeLimitReply = "INSTREAM size limit exceeded. ERROR";

    private static readonly byte[] InstreamCommand = "zINSTREAM\0"u8.ToArray();
    private static readonly byte[] VersionCommand = "zVERSION\0"u8.ToArray();
    private static readonly byte[] PingCommand = "zPING\0"u8.ToArray();

    private readonly EndPoint _endPoint;
    private readonly TimeSpan _connectTimeout;
    private readonly TimeSpan _ioTimeout;
    private readonly int _chunkSize;

    /// <param name="endpoint"><c>tcp://host:port</c>, <c>unix:///path/to/clamd.sock</c> or <c>/path/to/clamd.sock</c>.</param>
    /// <param name="connectTimeout">How long a connection may take; default 5 s.</param>
    /// <param name="ioTimeout">How long any one write or read may wait, including clamd's scan after the last chunk;
    /// default 60 s (clamd's own <c>MaxScanTime</c> defaults to 120 s for much larger inputs than images).</param>
    /// <param name="chunkSize">Bytes per <c>INSTREAM</c> chunk; default 64 KiB.</param>
    /// <exception cref="ArgumentException">The endpoint is not one of the three forms, or a setting is out of range.</exception>
    public ClamAvClient(string endpoint, TimeSpan? connectTimeout = null, TimeSpan? ioTimeout = null, int chunkSize = 64 * 1024)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        _endPoint = ParseEndpoint(endpoint);
        _connectTimeout = connectTimeout ?? TimeSpan.FromSeconds(5);
        _ioTimeout = ioTimeout ?? TimeSpan.FromSeconds(60);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(_connectTimeout, TimeSpan.Zero, nameof(connectTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(_ioTimeout, TimeSpan.Zero, nameof(ioTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1, nameof(chunkSize));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(chunkSize, 16 * 1024 * 1024, nameof(chunkSize));
        _chunkSize = chunkSize;
        Endpoint = endpoint;
    }

    /// <summary>The endpoint as given, for logs.</summary>
    public string Endpoint { get; }

    /// <summary>Scans <paramref name="content"/> from its current position to its end.</summary>
    /// <exception cref="ClamAvUnavailableException">clamd could not be reached or gave no reply.</exception>
    public async Task<ClamAvVerdict> ScanAsync(Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var socket = await ConnectAsync(timeout, cancellationToken);
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(_chunkSize + 4, MaxReplyBytes));
        try
        {
            Exception? writeFailure = null;
            try
            {
                await SendAsync(socket, InstreamCommand, timeout, cancellationToken);
                int read;
                while ((read = await content.ReadAsync(buffer.AsMemory(4, _chunkSize), cancellationToken)) > 0)
                {
                    BinaryPrimitives.WriteUInt32BigEndian(buffer, (uint)read);
                    await SendAsync(socket, buffer.AsMemory(0, 4 + read), timeout, cancellationToken);
                }

                BinaryPrimitives.WriteUInt32BigEndian(buffer, 0);
                await SendAsync(socket, buffer.AsMemory(0, 4), timeout, cancellationToken);
            }
            catch (ClamAvUnavailableException exception) when (exception.InnerException is SocketException)
            {
                // clamd stops reading and closes once a stream passes StreamMaxLength, after writing its reason; our
                // next write then fails (reset or broken pipe), but the reason is still there to be read.
                writeFailure = exception;
            }

            var reply = await ReceiveReplyAsync(socket, buffer, timeout, cancellationToken, writeFailure);
            return ParseScanReply(reply);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>clamd's <c>VERSION</c> reply, e.g. <c>ClamAV 1.4.6/27512/Tue Jan 13 09:25:42 2026</c>: engine version,
    /// then the signature database version and date (absent when only unofficial databases are loaded).</summary>
    /// <exception cref="ClamAvUnavailableException">clamd could not be reached or gave no reply.</exception>
    public Task<string> VersionAsync(CancellationToken cancellationToken) => CommandAsync(VersionCommand, cancellationToken);

    /// <summary>True when clamd answers <c>PONG</c>; false when it cannot be reached or answers anything else.</summary>
    public async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await CommandAsync(PingCommand, cancellationToken) == "PONG";
        }
        catch (ClamAvUnavailableException)
        {
            return false;
        }
    }

    private async Task<string> CommandAsync(byte[] command, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var socket = await ConnectAsync(timeout, cancellationToken);
        var buffer = ArrayPool<byte>.Shared.Rent(MaxReplyBytes);
        try
        {
            await SendAsync(socket, command, timeout, cancellationToken);
            return await ReceiveReplyAsync(socket, buffer, timeout, cancellationToken, writeFailure: null);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    internal static ClamAvVerdict ParseScanReply(string reply)
    {
        const string prefix = "stream: ";
        const string found = " FOUND";
        if (reply == SizeLimitReply)
        {
            return new ClamAvVerdict(ClamAvOutcome.TooLarge, null, reply);
        }

        if (reply.StartsWith(prefix, StringComparison.Ordinal))
        {
            var rest = reply[prefix.Length..];
            if (rest == "OK")
            {
                return new ClamAvVerdict(ClamAvOutcome.Clean, null, reply);
            }

            if (rest.EndsWith(found, StringComparison.Ordinal) && rest.Length > found.Length)
            {
                return new ClamAvVerdict(ClamAvOutcome.Infected, rest[..^found.Length], reply);
            }
        }

        return new ClamAvVerdict(ClamAvOutcome.Error, null, reply);
    }

    private static EndPoint ParseEndpoint(string endpoint)
    {
        const string unixScheme = "unix://";
        const string tcpScheme = "tcp://";
        if (endpoint.StartsWith('/'))
        {
            return new UnixDomainSocketEndPoint(endpoint);
        }

        if (endpoint.StartsWith(unixScheme, StringComparison.OrdinalIgnoreCase))
        {
            var path = endpoint[unixScheme.Length..];
            if (!path.StartsWith('/') || path.Length < 2)
            {
                throw new ArgumentException($"A unix endpoint needs an absolute path, as in unix:///run/clamav/clamd.ctl; got '{endpoint}'.", nameof(endpoint));
            }

            return new UnixDomainSocketEndPoint(path);
        }

        if (endpoint.StartsWith(tcpScheme, StringComparison.OrdinalIgnoreCase)
            && Uri.TryCreate(endpoint, UriKind.Absolute, out var uri)
            && uri.Port is > 0 and <= IPEndPoint.MaxPort
            && uri.DnsSafeHost.Length > 0
            && uri.AbsolutePath == "/" && uri.Query.Length == 0 && uri.Fragment.Length == 0 && uri.UserInfo.Length == 0)
        {
            return IPAddress.TryParse(uri.DnsSafeHost, out var address)
                ? new IPEndPoint(address, uri.Port)
                : new DnsEndPoint(uri.DnsSafeHost, uri.Port);
        }

        throw new ArgumentException(
            $"A clamd endpoint is tcp://host:port, unix:///path/to/socket or an absolute socket path; got '{endpoint}'.", nameof(endpoint));
    }

    private async Task<Socket> ConnectAsync(CancellationTokenSource timeout, CancellationToken cancellationToken)
    {
        var socket = _endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            timeout.CancelAfter(_connectTimeout);
            await socket.ConnectAsync(_endPoint, timeout.Token);
            return socket;
        }
        catch (Exception exception) when (exception is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw exception is SocketException
                ? new ClamAvUnavailableException($"clamd at {Endpoint} refused the connection or cannot be reached: {exception.Message}", exception)
                : new ClamAvUnavailableException($"clamd at {Endpoint} did not accept a connection within {_connectTimeout.TotalSeconds:0.###} s.", exception);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private async Task SendAsync(Socket socket, ReadOnlyMemory<byte> bytes, CancellationTokenSource timeout, CancellationToken cancellationToken)
    {
        try
        {
            timeout.CancelAfter(_ioTimeout);
            while (!bytes.IsEmpty)
            {
                var sent = await socket.SendAsync(bytes, SocketFlags.None, timeout.Token);
                bytes = bytes[sent..];
            }

            // Reading the next chunk from the content (a blob store) is not clamd's time.
            timeout.CancelAfter(Timeout.InfiniteTimeSpan);
        }
        catch (Exception exception) when (exception is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw exception is SocketException
                ? new ClamAvUnavailableException($"Writing to clamd at {Endpoint} failed: {exception.Message}", exception)
                : new ClamAvUnavailableException($"clamd at {Endpoint} took no data for {_ioTimeout.TotalSeconds:0.###} s.", exception);
        }
    }

    /// <summary>Reads up to clamd's NUL terminator; a connection that ends before it gave no reply.</summary>
    private async Task<string> ReceiveReplyAsync(
        Socket socket, byte[] buffer, CancellationTokenSource timeout, CancellationToken cancellationToken, Exception? writeFailure)
    {
        var length = 0;
        var limit = Math.Min(buffer.Length, MaxReplyBytes);
        try
        {
            timeout.CancelAfter(_ioTimeout);
            while (true)
            {
                var read = await socket.ReceiveAsync(buffer.AsMemory(length, limit - length), SocketFlags.None, timeout.Token);
                if (read == 0)
                {
                    throw new ClamAvUnavailableException($"clamd at {Endpoint} closed the connection without a reply.", writeFailure);
                }

                var terminator = buffer.AsSpan(length, read).IndexOf((byte)0);
                if (terminator >= 0)
                {
                    return Encoding.UTF8.GetString(buffer, 0, length + terminator);
                }

                length += read;

                if (length == limit)
                {
                    throw new ClamAvUnavailableException($"clamd at {Endpoint} sent more than {limit} bytes without ending its reply.");
                }
            }
        }
        catch (Exception exception) when (exception is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw exception is SocketException
                ? new ClamAvUnavailableException($"Reading clamd's reply from {Endpoint} failed: {exception.Message}", writeFailure ?? exception)
                : new ClamAvUnavailableException($"clamd at {Endpoint} sent no reply within {_ioTimeout.TotalSeconds:0.###} s.", exception);
        }
    }
}
