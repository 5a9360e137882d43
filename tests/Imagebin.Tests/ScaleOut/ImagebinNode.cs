using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Imagebin.Tests.ScaleOut;

/// <summary>
/// A real Imagebin process (the same <c>Imagebin.dll</c> the tests reference) on its own loopback port, configured by
/// environment variables the way an operator would. Killed with SIGKILL, the way a node dies.
/// </summary>
public sealed class ImagebinNode : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;

    private ImagebinNode(Process process, int port, string dataDir, StreamWriter log)
    {
        _process = process;
        Pid = process.Id;
        Port = port;
        DataDir = dataDir;
        _log = log;
        Client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = BaseAddress };
    }

    public int Port { get; }

    public string DataDir { get; }

    public int Pid { get; }

    public Uri BaseAddress => new($"http://127.0.0.1:{Port}");

    public HttpClient Client { get; }

    public string LogPath => Path.Combine(DataDir, "node.log");

    public static async Task<ImagebinNode> StartAsync(IReadOnlyDictionary<string, string?> settings, int? port = null)
    {
        var chosen = port ?? FreePort();
        var dataDir = Directory.CreateTempSubdirectory("imagebin-node-").FullName;
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "Imagebin.dll"), "--urls", $"http://127.0.0.1:{chosen}"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = dataDir,
        };
        start.Environment["Imagebin__DataDir"] = dataDir;
        start.Environment["Imagebin__PublicBaseUrl"] = $"http://127.0.0.1:{chosen}";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = Process.Start(start)!;
        var log = new StreamWriter(Path.Combine(dataDir, "node.log")) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var node = new ImagebinNode(process, chosen, dataDir, log);
        await node.WaitHealthyAsync();
        return node;
    }

    /// <summary>SIGKILL: no shutdown hooks, leases left as they were.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    private bool _disposed;

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await KillAsync();
        Client.Dispose();
        _process.Dispose();
        await _log.DisposeAsync();
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task WaitHealthyAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"Node on port {Port} exited with {_process.ExitCode}:\n{Tail()}");
            }

            try
            {
                using var response = await Client.GetAsync("/healthz");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"Node on port {Port} did not become healthy:\n{Tail()}");
    }

    public string Tail() => string.Join('\n', Log().Split('\n').TakeLast(40));

    /// <summary>Everything the node has written to stdout and stderr so far.</summary>
    public string Log()
    {
        lock (_log)
        {
            _log.Flush();
        }

        using var reader = new StreamReader(new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
        return reader.ReadToEnd();
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            log.WriteLine(line);
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
