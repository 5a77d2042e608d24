select id as employee_id, name, email, department, country, cast(salary as bigint) as salary,
       cast(hired_on as date) as hired_on
from {{ ref('raw_employees') }}
