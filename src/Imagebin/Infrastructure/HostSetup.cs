using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Imagebin.Infrastructure;

public static class HostSetup
{
    public const string DefaultUrl = "http://localhost:5080";

    /// <summary>Site options, JSON, Kestrel limits and error handling: what every feature relies on.</summary>
    public static WebApplicationBuilder AddImagebinHost(this WebApplicationBuilder builder)
    {
        NativeHeap.Tune();
        var configuration = builder.Configuration;
        if (string.IsNullOrEmpty(configuration["urls"]) && string.IsNullOrEmpty(configuration["http_ports"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.Services.AddOptions<ImagebinOptions>().BindConfiguration(ImagebinOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<SiteUrls>();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.ConfigureHttpJsonOptions(options =>
        {
            options.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            options.SerializerOptions.TypeInfoResolverChain.Insert(0, ImagebinJson.Default);
        });

        var serving = configuration.GetSection(ServingOptions.Section).Get<ServingOptions>() ?? new ServingOptions();
        var embedded = (configuration["Database:Provider"] ?? "Sqlite").Equals("Sqlite", StringComparison.OrdinalIgnoreCase)
            && (configuration["Storage:Provider"] ?? "FileSystem").Equals("FileSystem", StringComparison.OrdinalIgnoreCase);
        if (serving.InlineIo ?? embedded)
        {
            // The runtime reads these once, when the first socket is created, which is after this point.
            SetIfUnset("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
            SetIfUnset("DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT", (serving.SocketThreads ?? Environment.ProcessorCount).ToString(CultureInfo.InvariantCulture));
            builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = true);
        }

        var maxUpload = configuration.GetValue<long?>($"{LimitsOptions.Section}:MaxUploadBytes") ?? new LimitsOptions().MaxUploadBytes;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // The upload path counts bytes itself and answers 413 first; this is the backstop for everything else.
            kestrel.Limits.MaxRequestBodySize = maxUpload + 1024 * 1024;
            // Titles and tags arrive in headers as UTF-8.
            kestrel.RequestHeaderEncodingSelector = _ => Encoding.UTF8;
            // Image bodies are written in 64 KiB pieces and flushed every 256 KiB; a buffer cap only adds waits.
            kestrel.Limits.MaxResponseBufferSize = null;
        });
        return builder;
    }

    private static void SetIfUnset(string variable, string value)
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(variable)))
        {
            Environment.SetEnvironmentVariable(variable, value);
        }
    }
}
