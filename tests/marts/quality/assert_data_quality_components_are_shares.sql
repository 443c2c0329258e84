-- Every component of the data-quality score is a share between 0 and 1, and the score
-- is between 0 and 100.
select
    source_name,
    measured_at,
    quality_score
from {{ ref('data_quality_scores') }}
where
    completeness not between 0 and 1
    or validity not between 0 and 1
    or uniqueness not between 0 and 1
    or duplicate_rate not between 0 and 1
    or freshness not between 0 and 1
    or quality_score not between 0 and 100
