select id as payment_id, order_id, method, cast(amount as decimal(10, 2)) as amount, card_number
from {{ ref('raw_payments') }}
