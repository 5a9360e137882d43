using Imagebin.Jobs;

namespace Imagebin.Features.Captions;

public static class CaptionsSetup
{
    /// <summary>The caption stage of the job queue and the captioner <c>Captions:Provider</c> picks (DESIGN.md §9).</summary>
    public static WebApplicationBuilder AddCaptions(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<CaptionsOptions>().BindConfiguration(CaptionsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        // Read here too: the provider decides what is registered (a vision endpoint's client, or the offline captioner).
        var options = builder.Configuration.GetSection(CaptionsOptions.Section).Get<CaptionsOptions>() ?? new CaptionsOptions();
        services.AddCaptioners<OfflineCaptioner>(options);
        services.AddSingleton<IJobHandler, CaptionJob>();
        services.AddScoped<CaptionBatch>();
        return builder;
    }
}
