{% macro pii_rules() %}
    {#- The PII rules in one place: the classification levels, the column names that look
        personal, and the reviewed exceptions. Read by the dbt test
        tests/governance/assert_personal_columns_are_classified.sql and by Python
        (orchestration/lib/pii.py reads the YAML between `set rules` and `endset`), so the
        dbt check and the pytest can never disagree. Patterns are Python regular
        expressions searched in the lower-cased column name. -#}
    {%- set rules -%}
levels:
  public: not personal; may leave the company (product names, page names).
  internal: business data, or personal data that identifies nobody on its own (consent states, order totals, country); any role that can read the schema.
  confidential: indirect or pseudonymous personal data (city, postcode, device and anonymous ids, user agents, hashed emails); hashed for roles outside pii_confidential_roles and pii_unmasked_roles.
  restricted: direct identifiers and sensitive values (names, emails, phones, street addresses, birth dates, IP addresses, precise locations, free text a person wrote); hidden from roles outside pii_unmasked_roles.
personal_column_patterns:
  email address: '(^|_)(?<!of_)(?<!can_)(?<!verified_)email(_address|_raw)?$'
  hashed email or phone: '(^|_)(email|phone|phone_digits)_sha256$'
  phone number: '(^|_)phone(_number|_raw|_2_raw)?$'
  person name: '^(name|username|alias|salutation)$|(^|_)(first|last|middle|full|user|customer|contact|lead|person|verified|to|from)_name$|^(billing|shipping)(_address|_detail)?_name$'
  postal address: '(^|_)(street|city|postcode|postal_code|zip|(?<!ip_)address|address_\d|address_line_?\d|line_?\d)$'
  precise location: '(^|_)(latitude|longitude)$'
  birth date: '(^|_)birth_?(date|day)(_c)?$'
  ip address: '(^|_)ip(_address)?$'
  device or anonymous id: '(^|_)(anonymous|device|advertising)_id$|(^|_)user_agent$'
  identifier value: '(^|_)identifier_value$|^raw_value$'
  free text: '(^|_)(note|notes|description|subject|details|signature|comment|body)$'
# Columns a pattern matches that need no classification: resource (model name, or
# source_name.table_name) and column, with the reason. Keep it short: a column that could
# hold personal data is classified instead.
allowed_unclassified: []
    {%- endset -%}
    {{ return(fromyaml(rules)) }}
{% endmacro %}


{% macro pii_classification(column) %}
    {#- A column's classification from its properties (config.meta, or meta as dbt < 1.10 wrote it), or none. -#}
    {%- set config_meta = (column.get('config') or {}).get('meta') or {} -%}
    {{ return(config_meta.get('classification') or (column.get('meta') or {}).get('classification')) }}
{% endmacro %}


{% macro unclassified_personal_columns() %}
    {#- Every source and model column whose name looks personal (pii_rules) and that has no
        valid classification, or that has a classification outside the levels:
        [{resource, column, problem}]. -#}
    {%- set rules = cdp.pii_rules() -%}
    {%- set allowed = [] -%}
    {%- for a in rules.allowed_unclassified -%}{%- do allowed.append(a.resource ~ '.' ~ a.column) -%}{%- endfor -%}
    {%- set found = [] -%}
    {%- for node in graph.sources.values() | list + graph.nodes.values() | list
            if node.resource_type in ('source', 'model') and node.package_name == project_name -%}
        {%- set resource = node.source_name ~ '.' ~ node.name if node.resource_type == 'source' else node.name -%}
        {%- for column in node.columns.values() -%}
            {%- set level = cdp.pii_classification(column) -%}
            {%- set looks = [] -%}
            {%- for what, pattern in rules.personal_column_patterns.items() -%}
                {%- if modules.re.search(pattern, column.name | lower) -%}{%- do looks.append(what) -%}{%- endif -%}
            {%- endfor -%}
            {%- if level and level not in rules.levels -%}
                {%- do found.append({'resource': resource, 'column': column.name,
                                     'problem': 'classification ' ~ level ~ ' is not one of ' ~ (rules.levels | join(', '))}) -%}
            {%- elif looks and not level and (resource ~ '.' ~ column.name) not in allowed -%}
                {%- do found.append({'resource': resource, 'column': column.name,
                                     'problem': 'looks like ' ~ (looks | join(' / ')) ~ ' and has no classification'}) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(found) }}
{% endmacro %}
