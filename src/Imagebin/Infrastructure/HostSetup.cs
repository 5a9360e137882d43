using System.Text;
using System.Text.Json;

namespace Imagebin.Infrastructure;

public static class HostSetup
{
    public const string DefaultUrl = "http://localhost:5080";

    /// <summary>Site options, JSON, Kestrel limits and error handling: what every feature relies on.</summary>
    public static WebApplicationBuilder AddImagebinHost(this WebApplicationBuilder builder)
    {
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

        var maxUpload = configuration.GetValue<long?>($"{LimitsOptions.Section}:MaxUploadBytes") ?? new LimitsOptions().MaxUploadBytes;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // The upload path counts bytes itself and answers 413 first; this is the backstop for everything else.
            kestrel.Limits.MaxRequestBodySize = maxUpload + 1024 * 1024;
            // Titles and tags arrive in headers as UTF-8.
            kestrel.RequestHeaderEncodingSelector = _ => Encoding.UTF8;
        });
        return builder;
    }
}
