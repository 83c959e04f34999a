{#
    What each (resource, deployment, announced model) of the usage runs, for meter matching:
    the deployments seed wins (a session may announce an alias or the deployment's own name);
    else the announced model. Deployment type: the seed's, else var default_deployment_type.
#}
with

announced as (

    select distinct
        resource_name,
        deployment_name,
        model
    from {{ ref('int_response_usage') }}

    union

    select distinct
        transcriptions.resource_name,
        transcriptions.deployment_name,
        transcriptions.session_model as model
    from {{ ref('int_transcription_usage') }} as transcriptions

),

deployments as (

    select
        lower(resource_name) as resource_name,
        deployment_name,
        model,
        model_version,
        deployment_type

    from {{ ref('deployments') }}

),

resolved as (

    select
        announced.resource_name,
        announced.deployment_name,
        announced.model as announced_model,
        case
            when deployments.model is not null and deployments.model_version is not null
                then deployments.model || '-' || deployments.model_version
            else coalesce(deployments.model, announced.model)
        end as resolved_model,
        coalesce(deployments.deployment_type, '{{ var("default_deployment_type") }}') as deployment_type,
        deployments.resource_name is not null as is_in_deployments_seed

    from announced
    left join deployments
        on
            announced.resource_name = deployments.resource_name
            and (
                announced.deployment_name = deployments.deployment_name
                or announced.model = deployments.deployment_name
            )

),

final as (

    select
        resolved.*,
        {{ model_family('resolved.resolved_model') }} as family,
        coalesce(
            {{ model_version('resolved.resolved_model') }},
            {{ model_version('resolved.announced_model') }}
        ) as model_version

    from resolved

)

select * from final
