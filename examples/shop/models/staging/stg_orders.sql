select id as order_id, customer_id, cast(ordered_at as timestamp) as ordered_at,
       cast(amount as decimal(10, 2)) as amount, status, region
from {{ ref('raw_orders') }}
