"""Azure control plane: clouds, credentials and the Azure Resource Manager (ARM) REST client.

`clouds` names the endpoints, `credentials` gets bearer tokens, `arm` sends the requests
(retries, throttling, long-running operations, readable errors).
"""
