using Imagebin.Jobs;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Moderation;

public static class ModerationSetup
{
    /// <summary>The scan pipeline's engines, block lists, reports and the review queue (DESIGN.md §8).</summary>
    public static WebApplicationBuilder AddModeration(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ModerationOptions>().BindConfiguration(ModerationOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<HashLists>();
        // Loads (and checks) its model on first use, so roles that never classify never pay for it, and lets it go when idle.
        services.AddSingleton(provider => new NsfwClassifier
        {
            UnloadAfterIdle = provider.GetRequiredService<IOptions<ModerationOptions>>().Value.Classifier.UnloadAfterIdleSeconds is > 0 and var seconds
                ? TimeSpan.FromSeconds(seconds)
                : Timeout.InfiniteTimeSpan,
        });
        services.AddScoped<Reviews>();
        services.AddScoped<Reports>();
        services.AddScoped<AccountBans>();
        services.AddSingleton<IJobHandler, ScanJob>();
        return builder;
    }
}
