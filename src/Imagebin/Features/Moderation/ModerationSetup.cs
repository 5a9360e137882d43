using Imagebin.Jobs;

namespace Imagebin.Features.Moderation;

public static class ModerationSetup
{
    /// <summary>The scan pipeline's engines, block lists, reports and the review queue (DESIGN.md §8).</summary>
    public static WebApplicationBuilder AddModeration(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ModerationOptions>().BindConfiguration(ModerationOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<HashLists>();
        // Loads (and checks) its model on first use, so roles that never classify never pay for it.
        services.AddSingleton<NsfwClassifier>();
        services.AddScoped<Reviews>();
        services.AddScoped<Reports>();
        services.AddScoped<AccountBans>();
        services.AddSingleton<IJobHandler, ScanJob>();
        return builder;
    }
}
