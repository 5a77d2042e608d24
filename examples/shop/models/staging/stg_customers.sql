select id as customer_id, first_name, last_name, email, phone, country, state,
       cast(birth_date as date) as birth_date, cast(credit_card as varchar) as credit_card, ssn
from {{ ref('raw_customers') }}
